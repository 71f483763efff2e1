CREATE TABLE shop (
    id integer PRIMARY KEY,
    name text NOT NULL,
    opened date
);
CREATE TABLE sale (
    id integer PRIMARY KEY,
    shop_id integer REFERENCES shop (id)
);
