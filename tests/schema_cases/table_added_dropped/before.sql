CREATE TABLE country (code text PRIMARY KEY);
CREATE TABLE city (id integer PRIMARY KEY, country text REFERENCES country (code));
CREATE TABLE keep (id integer);
