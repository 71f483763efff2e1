CREATE TABLE rect (w numeric, h numeric, area numeric);
