CREATE TABLE doc (id integer PRIMARY KEY, owner text, body text);
CREATE VIEW my_docs AS SELECT id, owner, body FROM doc WHERE owner = current_user;
