CREATE TABLE note (id integer PRIMARY KEY, owner text, shared boolean);
ALTER TABLE note ENABLE ROW LEVEL SECURITY;
ALTER TABLE note FORCE ROW LEVEL SECURITY;
CREATE POLICY note_owner ON note FOR ALL TO sc_writer USING (owner = current_user) WITH CHECK (owner = current_user);
CREATE POLICY note_shared ON note AS RESTRICTIVE FOR SELECT TO sc_reader USING (shared OR owner = current_user);
CREATE TABLE open_note (id integer PRIMARY KEY, owner text);
ALTER TABLE open_note ENABLE ROW LEVEL SECURITY;
CREATE POLICY open_note_all ON open_note USING (true);
