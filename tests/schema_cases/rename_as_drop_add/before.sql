CREATE TABLE client (id integer PRIMARY KEY, fullname text);
CREATE TABLE zone (id integer PRIMARY KEY);
