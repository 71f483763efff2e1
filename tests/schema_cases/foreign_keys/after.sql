CREATE TABLE author (id integer PRIMARY KEY);
CREATE TABLE publisher (id integer PRIMARY KEY);
CREATE TABLE novel (
    id integer PRIMARY KEY,
    author_id integer REFERENCES author (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    publisher_id integer,
    editor_id integer CONSTRAINT novel_editor_fk REFERENCES author (id) ON DELETE SET NULL
);
