CREATE SCHEMA ext;
CREATE EXTENSION hstore WITH SCHEMA ext;
CREATE TABLE word (id integer PRIMARY KEY, w text, props ext.hstore);
