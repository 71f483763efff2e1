CREATE TYPE new_state AS ENUM ('new', 'working', 'done');
CREATE TABLE task (id integer PRIMARY KEY, state new_state NOT NULL DEFAULT 'new');
