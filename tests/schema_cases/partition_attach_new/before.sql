CREATE TABLE visit (
    id bigint NOT NULL,
    region text NOT NULL,
    at timestamptz
) PARTITION BY LIST (region);
CREATE TABLE visit_eu PARTITION OF visit FOR VALUES IN ('eu');
CREATE TABLE visit_us (
    id bigint NOT NULL,
    region text NOT NULL,
    at timestamptz
);
