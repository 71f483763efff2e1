-- roles: sc_reader sc_writer
CREATE TABLE note (id integer PRIMARY KEY, owner text, shared boolean);
ALTER TABLE note ENABLE ROW LEVEL SECURITY;
CREATE POLICY note_owner ON note USING (owner = current_user);
CREATE POLICY note_old ON note FOR SELECT USING (shared);
CREATE TABLE open_note (id integer PRIMARY KEY, owner text);
