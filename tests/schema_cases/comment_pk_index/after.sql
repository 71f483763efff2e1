CREATE TABLE node (id integer PRIMARY KEY, parent integer);
COMMENT ON INDEX node_pkey IS 'lookups by id';
COMMENT ON CONSTRAINT node_pkey ON node IS 'one row per node';
