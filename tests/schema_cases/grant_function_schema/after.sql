CREATE SCHEMA api;
CREATE FUNCTION api.add(a integer, b integer) RETURNS integer
    LANGUAGE sql IMMUTABLE AS $$ SELECT a + b $$;
REVOKE EXECUTE ON FUNCTION api.add(integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.add(integer, integer) TO sc_reader;
GRANT USAGE ON SCHEMA api TO sc_reader;
