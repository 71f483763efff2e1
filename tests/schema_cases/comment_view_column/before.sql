CREATE TABLE item (id integer PRIMARY KEY, qty integer);
CREATE VIEW item_stock AS SELECT id, qty FROM item WHERE qty > 0;
