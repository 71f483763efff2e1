CREATE TABLE message (id integer PRIMARY KEY, sender text, body text, sent_at timestamptz, read boolean);
CREATE INDEX message_sent_idx ON message (sent_at DESC);
CREATE INDEX message_unread_idx ON message (sender, sent_at) WHERE NOT read;
CREATE INDEX message_lower_sender_idx ON message (lower(sender));
CREATE UNIQUE INDEX message_body_hash_idx ON message (md5(body)) INCLUDE (id);
