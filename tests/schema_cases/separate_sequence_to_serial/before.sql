CREATE SEQUENCE legacy_seq;
CREATE TABLE gamma (id bigint NOT NULL DEFAULT nextval('legacy_seq') PRIMARY KEY, v text);
