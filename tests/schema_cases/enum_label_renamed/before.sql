CREATE TYPE colour AS ENUM ('red', 'grene', 'blue');
CREATE TABLE paint (id integer PRIMARY KEY, colour colour DEFAULT 'red');
