CREATE TABLE event (
    id bigint PRIMARY KEY,
    kind text,
    payload jsonb
);
ALTER TABLE event ALTER COLUMN payload SET STATISTICS 200;
