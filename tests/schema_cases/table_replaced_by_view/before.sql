CREATE TABLE things (id integer PRIMARY KEY, name text, hidden boolean DEFAULT false);
CREATE VIEW visible_things AS SELECT id, name FROM things WHERE NOT hidden;
CREATE VIEW thing_names AS SELECT name FROM visible_things;
