CREATE TABLE node (id integer PRIMARY KEY, parent integer);
