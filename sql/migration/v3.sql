-- Users get an email address; posts can be archived.
ALTER TABLE users ADD COLUMN email VARCHAR(255);

-- ADD VALUE cannot be used before it is committed: it runs on its own.
ALTER TYPE post_status ADD VALUE 'archived';
