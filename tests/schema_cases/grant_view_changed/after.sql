CREATE TABLE product (
    id integer PRIMARY KEY,
    name text NOT NULL,
    price numeric
);
CREATE VIEW product_list AS SELECT id, name, price::text AS price_text FROM product WHERE price IS NOT NULL;
GRANT SELECT ON product_list TO sc_reader;
