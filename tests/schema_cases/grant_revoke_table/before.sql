-- roles: sc_reader sc_writer
CREATE TABLE invoice (
    id integer PRIMARY KEY,
    total numeric NOT NULL
);
GRANT SELECT, INSERT, UPDATE ON invoice TO sc_writer;
GRANT SELECT ON invoice TO sc_reader;
GRANT SELECT ON invoice TO PUBLIC;
