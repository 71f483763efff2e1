CREATE TABLE customer (
    id integer PRIMARY KEY,
    first_name text,
    last_name text NOT NULL
);
