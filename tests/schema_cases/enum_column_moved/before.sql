CREATE TYPE old_state AS ENUM ('new', 'done');
CREATE TYPE new_state AS ENUM ('new', 'working', 'done');
CREATE TABLE task (id integer PRIMARY KEY, state old_state NOT NULL DEFAULT 'new');
