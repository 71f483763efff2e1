CREATE TABLE things_data (id integer PRIMARY KEY, name text, hidden boolean DEFAULT false, deleted boolean DEFAULT false);
CREATE VIEW things AS SELECT id, name, hidden FROM things_data WHERE NOT deleted;
CREATE VIEW visible_things AS SELECT id, name FROM things WHERE NOT hidden;
CREATE VIEW thing_names AS SELECT name FROM visible_things;
