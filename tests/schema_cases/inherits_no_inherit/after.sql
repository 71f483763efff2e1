CREATE TABLE base_item (
    id integer NOT NULL,
    label text
);

CREATE TABLE special_item (
    id integer NOT NULL,
    label text,
    weight numeric
);
