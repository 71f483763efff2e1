CREATE TABLE metric (id integer PRIMARY KEY, value bigint);
CREATE VIEW big_metric AS SELECT id, value FROM metric WHERE value > 100;
