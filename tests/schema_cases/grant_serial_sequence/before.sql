-- roles: sc_reader sc_writer
CREATE TABLE ticket (
    id serial PRIMARY KEY,
    title text NOT NULL
);
GRANT SELECT, INSERT ON ticket TO sc_writer;
