CREATE TABLE document (
    id integer PRIMARY KEY
);
CREATE SEQUENCE document_number_seq START 1000;
GRANT USAGE ON SEQUENCE document_number_seq TO sc_writer;
GRANT SELECT ON SEQUENCE document_number_seq TO sc_reader;
