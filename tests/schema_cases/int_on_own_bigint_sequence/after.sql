CREATE TABLE counter (
    id serial PRIMARY KEY,
    label text
);
