CREATE TABLE circle_t (r numeric, d numeric GENERATED ALWAYS AS (r * 2) STORED);
