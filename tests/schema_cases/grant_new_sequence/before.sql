-- roles: sc_reader sc_writer
CREATE TABLE document (
    id integer PRIMARY KEY
);
