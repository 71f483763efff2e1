-- Users, and the status type posts will use.
CREATE TYPE post_status AS ENUM ('draft', 'published');

CREATE TABLE users (
    id SERIAL PRIMARY KEY,
    username VARCHAR(80) NOT NULL UNIQUE,
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL DEFAULT now()
);
