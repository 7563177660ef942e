-- Concatenated MOs assembled recently: a part that arrives again afterwards (the carrier
-- resends one whose acknowledgement it missed) is a duplicate, not the start of a new message.
CREATE TABLE inbound_assembled (
    source       TEXT NOT NULL,
    destination  TEXT NOT NULL,
    reference    INTEGER NOT NULL,
    total        INTEGER NOT NULL,
    assembled_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (source, destination, reference, total)
);
