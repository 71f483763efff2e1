CREATE TABLE customer (
    id integer PRIMARY KEY,
    last_name text NOT NULL
);
