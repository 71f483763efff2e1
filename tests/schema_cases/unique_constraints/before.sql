CREATE TABLE login (id integer PRIMARY KEY, email text UNIQUE, username text, tenant integer);
CREATE UNIQUE INDEX login_username_key ON login (username);
