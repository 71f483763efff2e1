CREATE TYPE colour AS ENUM ('red', 'green', 'blue');
CREATE TABLE paint (id integer PRIMARY KEY, colour colour DEFAULT 'red');
