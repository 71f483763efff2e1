CREATE TABLE shop (
    id integer PRIMARY KEY,
    name text NOT NULL,
    region text NOT NULL DEFAULT 'north' CHECK (region <> ''),
    opened date
);
CREATE INDEX shop_region_idx ON shop (region);
CREATE TABLE sale (
    id integer PRIMARY KEY,
    shop_id integer REFERENCES shop (id)
);
