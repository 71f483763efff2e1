CREATE TABLE hot_table (
    id integer PRIMARY KEY,
    body text
) WITH (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.05);
ALTER TABLE hot_table ALTER COLUMN body SET STORAGE EXTERNAL;
