-- roles: sc_reader sc_writer
CREATE TABLE existing (id integer);
