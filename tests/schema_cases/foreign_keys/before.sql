CREATE TABLE author (id integer PRIMARY KEY);
CREATE TABLE publisher (id integer PRIMARY KEY);
CREATE TABLE novel (
    id integer PRIMARY KEY,
    author_id integer REFERENCES author (id),
    publisher_id integer CONSTRAINT novel_publisher_fk REFERENCES publisher (id),
    editor_id integer
);
