CREATE SEQUENCE counter_id_seq;
CREATE TABLE counter (
    id integer NOT NULL DEFAULT nextval('counter_id_seq') PRIMARY KEY,
    label text
);
ALTER SEQUENCE counter_id_seq OWNED BY counter.id;
