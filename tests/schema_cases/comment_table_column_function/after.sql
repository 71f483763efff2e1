CREATE TABLE book (
    id integer PRIMARY KEY,
    title text,
    isbn text
);
COMMENT ON TABLE book IS 'books we stock';
COMMENT ON COLUMN book.title IS 'as printed on the cover';
CREATE FUNCTION book_count() RETURNS bigint LANGUAGE sql STABLE AS $$ SELECT count(*) FROM book $$;
COMMENT ON FUNCTION book_count() IS 'how many books';
