CREATE TABLE person (
    id integer PRIMARY KEY,
    name text,
    phone text,
    secret text
);
GRANT SELECT (id, name) ON person TO sc_reader;
GRANT SELECT (id, name, phone), UPDATE (phone) ON person TO sc_writer;
