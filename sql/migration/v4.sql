-- Archive old drafts with the status added in v3.
ALTER TABLE posts ADD COLUMN archived_at TIMESTAMP WITHOUT TIME ZONE;

UPDATE posts
   SET status = 'archived', archived_at = now()
 WHERE status = 'draft' AND created_at < now() - interval '1 year';
