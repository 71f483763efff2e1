CREATE TABLE invoice (
    id integer PRIMARY KEY,
    total numeric NOT NULL
);
GRANT SELECT, INSERT ON invoice TO sc_writer;
