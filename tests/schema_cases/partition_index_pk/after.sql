CREATE TABLE hits (
    id bigint NOT NULL,
    bucket integer NOT NULL,
    url text,
    PRIMARY KEY (id, bucket)
) PARTITION BY HASH (bucket);
CREATE TABLE hits_0 PARTITION OF hits FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE hits_1 PARTITION OF hits FOR VALUES WITH (MODULUS 2, REMAINDER 1);
CREATE INDEX hits_url_idx ON hits (url);
