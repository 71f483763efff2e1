CREATE TABLE measure (id integer PRIMARY KEY, code text, price numeric(8,2), label varchar(10), amount text);
CREATE INDEX measure_code_idx ON measure (code);
