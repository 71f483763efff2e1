CREATE SEQUENCE global_id_seq AS integer;
CREATE TABLE alpha (id integer NOT NULL DEFAULT nextval('global_id_seq') PRIMARY KEY, v text);
CREATE TABLE beta (id integer NOT NULL DEFAULT nextval('global_id_seq') PRIMARY KEY);
