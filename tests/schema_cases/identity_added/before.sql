CREATE TABLE place (id integer NOT NULL PRIMARY KEY, name text);
