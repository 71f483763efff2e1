-- Saved with a byte order mark, as some editors do.
-- CONCURRENTLY cannot run in a transaction: the runner runs it on its own.
CREATE INDEX CONCURRENTLY ix_posts_user_id ON posts (user_id);
