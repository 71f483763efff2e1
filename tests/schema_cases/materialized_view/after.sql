CREATE TABLE purchase (id integer PRIMARY KEY, customer text, amount numeric);
CREATE MATERIALIZED VIEW customer_total AS SELECT customer, sum(amount) AS total, count(*) AS n FROM purchase GROUP BY customer;
CREATE UNIQUE INDEX customer_total_idx ON customer_total (customer);
CREATE MATERIALIZED VIEW big_purchase AS SELECT id, amount FROM purchase WHERE amount > 1000 WITH NO DATA;
