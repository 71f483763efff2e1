CREATE TABLE vehicle (
    id integer NOT NULL,
    name text NOT NULL
);

CREATE TABLE car (
    doors integer
) INHERITS (vehicle);

CREATE TABLE truck (
    payload_kg integer
) INHERITS (vehicle);

ALTER TABLE vehicle ADD COLUMN registered_on date DEFAULT CURRENT_DATE;
