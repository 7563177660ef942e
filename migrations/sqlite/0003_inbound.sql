-- Inbound (MO) messages (SQLite).

-- Which account owns which number (long number or short code) for inbound messages.
CREATE TABLE numbers (
    number      TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id),
    created_at  REAL NOT NULL
);

-- Parts of concatenated MOs, each committed before the carrier gets its deliver_sm_resp, so an
-- acknowledged part survives a crash and parts may arrive on any bind of any node.
CREATE TABLE inbound_parts (
    source            TEXT NOT NULL,
    destination       TEXT NOT NULL,
    reference         INTEGER NOT NULL,
    total             INTEGER NOT NULL,
    seq               INTEGER NOT NULL,
    encoding          TEXT NOT NULL,
    data_coding       INTEGER NOT NULL,
    body              BLOB NOT NULL,
    national_locking  INTEGER,
    national_single   INTEGER,
    connector         TEXT NOT NULL,
    received_at       REAL NOT NULL,
    PRIMARY KEY (source, destination, reference, total, seq)
);
CREATE INDEX inbound_parts_received ON inbound_parts(received_at);

CREATE TABLE inbound (
    id           TEXT PRIMARY KEY,
    account_id   TEXT,
    source       TEXT NOT NULL,
    destination  TEXT NOT NULL,
    text         TEXT NOT NULL,
    encoding     TEXT NOT NULL,
    parts        INTEGER NOT NULL,
    incomplete   INTEGER NOT NULL,
    connector    TEXT NOT NULL,
    received_at  REAL NOT NULL
);
CREATE INDEX inbound_account ON inbound(account_id, received_at);

ALTER TABLE smpp_outbox ADD COLUMN encoding TEXT;
