CREATE COLLATION posix_copy FROM "POSIX";
CREATE TABLE label (a text, b text COLLATE posix_copy, c text COLLATE "C");
