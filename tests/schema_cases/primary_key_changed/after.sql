CREATE TABLE enrolment (id integer NOT NULL, student integer NOT NULL, course integer NOT NULL,
    CONSTRAINT enrolment_pkey PRIMARY KEY (student, course));
CREATE TABLE keyless (code text PRIMARY KEY);
