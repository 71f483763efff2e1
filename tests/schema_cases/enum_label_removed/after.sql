CREATE TYPE priority AS ENUM ('low', 'medium', 'high');
CREATE TABLE issue (id integer PRIMARY KEY, priority priority DEFAULT 'low');
CREATE VIEW urgent_issue AS SELECT id FROM issue WHERE priority = 'high';
