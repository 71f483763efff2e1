CREATE TABLE member (id serial PRIMARY KEY, name text);
