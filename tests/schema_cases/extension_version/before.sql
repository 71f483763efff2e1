CREATE EXTENSION hstore VERSION '1.4';
CREATE TABLE setting (id integer PRIMARY KEY, attrs hstore);
