CREATE TABLE sales (
    id bigint NOT NULL,
    sold_on date NOT NULL,
    amount numeric
) PARTITION BY RANGE (sold_on);
CREATE TABLE sales_2023 PARTITION OF sales FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
CREATE TABLE sales_2024 PARTITION OF sales FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE sales_2025 PARTITION OF sales FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');

-- The target is made the way a migration would make it, so that PostgreSQL 18's
-- names of the detached table's NOT NULL constraints are the ones a DETACH leaves.
ALTER TABLE sales DETACH PARTITION sales_2023;
ALTER TABLE sales ADD COLUMN currency text DEFAULT 'EUR';
