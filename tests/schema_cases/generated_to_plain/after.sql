CREATE TABLE circle_t (r numeric, d numeric);
