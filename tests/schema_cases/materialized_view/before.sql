CREATE TABLE purchase (id integer PRIMARY KEY, customer text, amount numeric);
CREATE MATERIALIZED VIEW customer_total AS SELECT customer, sum(amount) AS total FROM purchase GROUP BY customer;
CREATE UNIQUE INDEX customer_total_idx ON customer_total (customer);
CREATE MATERIALIZED VIEW stale AS SELECT 1 AS one;
