CREATE TABLE log_entry (
    id integer NOT NULL,
    message text
);

CREATE TABLE log_entry_archive (
    archived_at timestamptz DEFAULT now()
) INHERITS (log_entry);
