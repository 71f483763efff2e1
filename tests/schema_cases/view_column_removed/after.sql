CREATE TABLE part (id integer PRIMARY KEY, name text, cost numeric);
CREATE VIEW part_view AS SELECT id, name FROM part;
CREATE VIEW part_names AS SELECT id, name FROM part_view;
