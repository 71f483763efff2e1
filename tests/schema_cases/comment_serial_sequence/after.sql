CREATE TABLE job (id serial PRIMARY KEY, name text);
COMMENT ON SEQUENCE job_id_seq IS 'job numbers; never reset';
