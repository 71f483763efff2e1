-- roles: sc_reader sc_writer
CREATE TABLE person (
    id integer PRIMARY KEY,
    name text,
    phone text
);
GRANT SELECT (id, name, phone) ON person TO sc_reader;
GRANT UPDATE (name, phone) ON person TO sc_writer;
