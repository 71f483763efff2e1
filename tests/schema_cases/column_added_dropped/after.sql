CREATE TABLE profile (id integer PRIMARY KEY, nickname text, bio text NOT NULL DEFAULT '', created_at timestamptz DEFAULT now());
