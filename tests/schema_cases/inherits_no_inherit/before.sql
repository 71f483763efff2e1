CREATE TABLE base_item (
    id integer NOT NULL,
    label text
);

CREATE TABLE special_item (
    weight numeric
) INHERITS (base_item);
