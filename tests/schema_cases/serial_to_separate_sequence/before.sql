CREATE TABLE alpha (id serial PRIMARY KEY, v text);
