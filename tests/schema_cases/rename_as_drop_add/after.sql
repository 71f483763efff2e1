CREATE TABLE customer_account (id integer PRIMARY KEY, fullname text);
CREATE TABLE zone (id integer PRIMARY KEY);
ALTER TABLE zone ADD COLUMN display_name text;
