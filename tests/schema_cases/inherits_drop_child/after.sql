CREATE TABLE log_entry (
    id integer NOT NULL,
    message text
);
