CREATE TABLE keep (id integer);
CREATE TABLE planet (id integer PRIMARY KEY, name text UNIQUE, mass double precision);
