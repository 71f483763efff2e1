CREATE TABLE hot_table (
    id integer PRIMARY KEY,
    body text
) WITH (fillfactor = 90);
