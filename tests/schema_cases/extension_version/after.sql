CREATE EXTENSION hstore VERSION '1.8';
CREATE EXTENSION citext VERSION '1.5';
CREATE TABLE setting (id integer PRIMARY KEY, attrs hstore, name citext);
