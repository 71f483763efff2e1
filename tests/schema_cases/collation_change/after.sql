CREATE TABLE label (a text COLLATE "C", b text, c text COLLATE "POSIX");
