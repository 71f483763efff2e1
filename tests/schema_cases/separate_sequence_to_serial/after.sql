CREATE TABLE gamma (id bigserial PRIMARY KEY, v text);
