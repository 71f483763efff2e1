CREATE TABLE post (id integer PRIMARY KEY, title text, body text, updated_at timestamptz);
CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.updated_at := now(); RETURN NEW; END $$;
CREATE TRIGGER post_stamp BEFORE UPDATE ON post FOR EACH ROW EXECUTE FUNCTION stamp();
CREATE TRIGGER post_old BEFORE INSERT ON post FOR EACH ROW EXECUTE FUNCTION stamp();
