CREATE TABLE post (id integer PRIMARY KEY, title text, body text, updated_at timestamptz);
CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.updated_at := now(); RETURN NEW; END $$;
CREATE FUNCTION noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER post_stamp BEFORE INSERT OR UPDATE OF title, body ON post FOR EACH ROW EXECUTE FUNCTION stamp();
CREATE TRIGGER post_audit AFTER DELETE ON post FOR EACH STATEMENT EXECUTE FUNCTION noop();
ALTER TABLE post DISABLE TRIGGER post_audit;
