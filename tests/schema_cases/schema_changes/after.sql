CREATE SCHEMA billing;
CREATE TABLE billing.plan (id integer PRIMARY KEY, price numeric);
CREATE VIEW billing.cheap_plan AS SELECT id FROM billing.plan WHERE price < 10;
CREATE FUNCTION billing.plan_count() RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM billing.plan $$;
CREATE TABLE public.keep (id integer);
