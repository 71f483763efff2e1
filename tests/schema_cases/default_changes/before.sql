CREATE TABLE config (id integer PRIMARY KEY, enabled boolean DEFAULT false, retries integer DEFAULT 3, created date);
