CREATE TABLE measurement (
    id bigserial PRIMARY KEY,
    taken_at timestamptz NOT NULL,
    value numeric
);
