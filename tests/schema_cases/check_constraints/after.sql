CREATE TABLE booking (
    id integer PRIMARY KEY,
    starts date,
    ends date,
    guests integer CONSTRAINT booking_guests_check CHECK (guests BETWEEN 1 AND 12),
    note text,
    CONSTRAINT booking_dates_check CHECK (ends >= starts)
);
ALTER TABLE booking ADD CONSTRAINT booking_start_future CHECK (starts > '2000-01-01') NOT VALID;
