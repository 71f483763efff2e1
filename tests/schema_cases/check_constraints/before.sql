CREATE TABLE booking (
    id integer PRIMARY KEY,
    starts date,
    ends date,
    guests integer CONSTRAINT booking_guests_check CHECK (guests > 0),
    note text CONSTRAINT booking_note_check CHECK (length(note) < 100)
);
