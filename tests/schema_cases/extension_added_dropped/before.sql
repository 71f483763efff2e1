CREATE EXTENSION pg_trgm;
CREATE TABLE word (id integer PRIMARY KEY, w text);
CREATE INDEX word_trgm_idx ON word USING gin (w gin_trgm_ops);
