CREATE TABLE measurement (
    id bigserial PRIMARY KEY,
    taken_at timestamptz NOT NULL,
    value numeric
);

CREATE TABLE measurement_2024 (
    CONSTRAINT measurement_2024_taken_at_check
        CHECK (taken_at >= '2024-01-01' AND taken_at < '2025-01-01')
) INHERITS (measurement);
