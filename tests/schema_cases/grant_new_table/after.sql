CREATE TABLE existing (id integer);
CREATE TABLE audit_event (
    id bigserial PRIMARY KEY,
    happened_at timestamptz NOT NULL DEFAULT now(),
    detail jsonb
);
GRANT SELECT ON audit_event TO sc_reader;
GRANT INSERT ON audit_event TO sc_writer;
GRANT USAGE ON SEQUENCE audit_event_id_seq TO sc_writer;
