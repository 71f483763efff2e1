CREATE FUNCTION greet(name text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT 'hi ' || name $$;
CREATE FUNCTION area(r double precision) RETURNS double precision LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT pi() * r * r $$;
CREATE FUNCTION scale(x bigint, factor bigint DEFAULT 2) RETURNS bigint LANGUAGE sql AS $$ SELECT x * factor $$;
CREATE FUNCTION counts(OUT a integer, OUT b integer) LANGUAGE sql AS $$ SELECT 1, 2 $$;
CREATE PROCEDURE reset_all() LANGUAGE plpgsql AS $$ BEGIN RAISE NOTICE 'reset'; END $$;
