CREATE TABLE contact (id integer PRIMARY KEY, name text NOT NULL, email text, phone text NOT NULL);
