CREATE DOMAIN positive_int AS integer CONSTRAINT positive_int_check CHECK (VALUE > 0);
CREATE DOMAIN unused_domain AS text;
CREATE TABLE stock (id integer PRIMARY KEY, qty positive_int);
