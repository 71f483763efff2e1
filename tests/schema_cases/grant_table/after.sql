CREATE TABLE account (
    id integer PRIMARY KEY,
    email text NOT NULL
);
GRANT SELECT ON account TO sc_reader;
GRANT SELECT, INSERT, UPDATE, DELETE ON account TO sc_writer;
