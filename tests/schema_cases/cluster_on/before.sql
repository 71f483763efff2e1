CREATE TABLE reading (
    id integer PRIMARY KEY,
    sensor integer,
    at timestamptz
);
CREATE INDEX reading_sensor_idx ON reading (sensor);
CREATE TABLE other_reading (
    id integer PRIMARY KEY,
    at timestamptz
);
CREATE INDEX other_reading_at_idx ON other_reading (at);
ALTER TABLE other_reading CLUSTER ON other_reading_pkey;
