CREATE DOMAIN positive_int AS integer DEFAULT 1 CONSTRAINT positive_int_check CHECK (VALUE >= 1 AND VALUE < 1000000);
CREATE DOMAIN email AS text NOT NULL CONSTRAINT email_check CHECK (VALUE LIKE '%@%');
CREATE TABLE stock (id integer PRIMARY KEY, qty positive_int, contact email);
