CREATE TABLE person (
    id integer PRIMARY KEY,
    name text,
    phone text
);
GRANT SELECT (id, name) ON person TO sc_reader;
