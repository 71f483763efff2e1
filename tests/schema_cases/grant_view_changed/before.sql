-- roles: sc_reader sc_writer
CREATE TABLE product (
    id integer PRIMARY KEY,
    name text NOT NULL,
    price numeric
);
CREATE VIEW product_list AS SELECT id, name FROM product;
GRANT SELECT ON product_list TO sc_reader;
