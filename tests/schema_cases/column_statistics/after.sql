CREATE TABLE event (
    id bigint PRIMARY KEY,
    kind text,
    payload jsonb
);
ALTER TABLE event ALTER COLUMN kind SET STATISTICS 1000;
