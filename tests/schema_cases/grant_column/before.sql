-- roles: sc_reader sc_writer
CREATE TABLE person (
    id integer PRIMARY KEY,
    name text,
    phone text,
    secret text
);
