CREATE TABLE profile (id integer PRIMARY KEY, nickname text, age integer);
