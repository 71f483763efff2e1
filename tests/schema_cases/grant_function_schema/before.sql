-- roles: sc_reader sc_writer
CREATE SCHEMA api;
CREATE FUNCTION api.add(a integer, b integer) RETURNS integer
    LANGUAGE sql IMMUTABLE AS $$ SELECT a + b $$;
