CREATE TABLE book (
    id integer PRIMARY KEY,
    title text,
    isbn text
);
COMMENT ON TABLE book IS 'old description';
COMMENT ON COLUMN book.isbn IS 'to be removed';
CREATE FUNCTION book_count() RETURNS bigint LANGUAGE sql STABLE AS $$ SELECT count(*) FROM book $$;
