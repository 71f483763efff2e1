-- roles: sc_reader sc_writer
CREATE TABLE account (
    id integer PRIMARY KEY,
    email text NOT NULL
);
GRANT SELECT ON account TO sc_reader;
