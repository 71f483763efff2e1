CREATE TABLE item (id integer PRIMARY KEY, qty integer);
CREATE VIEW item_stock AS SELECT id, qty FROM item WHERE qty > 0;
COMMENT ON VIEW item_stock IS 'items in stock';
COMMENT ON COLUMN item_stock.qty IS 'units on hand';
