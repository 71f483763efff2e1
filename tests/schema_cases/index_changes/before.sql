CREATE TABLE message (id integer PRIMARY KEY, sender text, body text, sent_at timestamptz, read boolean);
CREATE INDEX message_sender_idx ON message (sender);
CREATE INDEX message_sent_idx ON message (sent_at);
