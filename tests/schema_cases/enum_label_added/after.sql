CREATE TYPE size AS ENUM ('small', 'medium', 'large', 'huge');
CREATE TABLE shirt (id integer PRIMARY KEY, size size);
