CREATE TABLE ticket (
    id serial PRIMARY KEY,
    title text NOT NULL
);
GRANT SELECT, INSERT ON ticket TO sc_writer;
GRANT USAGE, SELECT ON SEQUENCE ticket_id_seq TO sc_writer;
