CREATE TABLE placeholder (id integer);
CREATE SCHEMA reporting;
COMMENT ON SCHEMA reporting IS 'reports live here';
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
COMMENT ON TYPE mood IS 'how it feels';
CREATE TABLE reporting.entry (
    id integer PRIMARY KEY,
    feeling mood,
    CONSTRAINT entry_id_positive CHECK (id > 0)
);
COMMENT ON CONSTRAINT entry_id_positive ON reporting.entry IS 'ids start at 1';
CREATE FUNCTION reporting.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER entry_touch BEFORE UPDATE ON reporting.entry FOR EACH ROW EXECUTE FUNCTION reporting.touch();
COMMENT ON TRIGGER entry_touch ON reporting.entry IS 'keeps rows fresh';
