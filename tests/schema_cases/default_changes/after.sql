CREATE TABLE config (id integer PRIMARY KEY, enabled boolean DEFAULT true, retries integer, created date DEFAULT CURRENT_DATE);
