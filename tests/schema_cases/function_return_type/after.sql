CREATE FUNCTION answer() RETURNS bigint LANGUAGE sql IMMUTABLE AS $$ SELECT 42::bigint $$;
CREATE VIEW the_answer AS SELECT answer() AS a;
