CREATE TABLE measure (id bigint PRIMARY KEY, code varchar(40), price numeric(12,4), label varchar(50), amount integer);
CREATE INDEX measure_code_idx ON measure (code);
