CREATE TYPE size AS ENUM ('small', 'large');
CREATE TABLE shirt (id integer PRIMARY KEY, size size);
