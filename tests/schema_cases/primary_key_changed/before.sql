CREATE TABLE enrolment (id integer PRIMARY KEY, student integer NOT NULL, course integer NOT NULL);
CREATE TABLE keyless (code text NOT NULL);
