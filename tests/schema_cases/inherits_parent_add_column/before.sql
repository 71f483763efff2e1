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
