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

-- Attached, not created as a partition: PostgreSQL 18 keeps visit_us's own NOT NULL constraint names.
ALTER TABLE visit ATTACH PARTITION visit_us FOR VALUES IN ('us');
CREATE TABLE visit_apac PARTITION OF visit FOR VALUES IN ('apac', 'oc');
CREATE TABLE visit_other PARTITION OF visit DEFAULT;
