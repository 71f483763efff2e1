CREATE SCHEMA legacy;
CREATE TABLE legacy.thing (id integer);
CREATE TABLE public.keep (id integer);
