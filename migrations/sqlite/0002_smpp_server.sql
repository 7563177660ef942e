-- The SMPP server for aggregators (SQLite).

-- Credentials an ESME binds with. The password is stored as an scrypt hash.
CREATE TABLE smpp_credentials (
    system_id         TEXT PRIMARY KEY,
    account_id        TEXT NOT NULL REFERENCES accounts(id),
    password_hash     TEXT NOT NULL,
    allowed_networks  TEXT NOT NULL DEFAULT '',
    max_binds         INTEGER NOT NULL DEFAULT 10,
    throughput        REAL NOT NULL DEFAULT 0,
    created_at        REAL NOT NULL
);

-- The bind a message came in on (NULL for REST), and for each part whether the ESME asked for
-- a receipt: SMPP registered_delivery bits 0-1 (0 none, 1 always, 2 on failure only).
ALTER TABLE messages ADD COLUMN origin_system_id TEXT;
-- A long text an ESME sent in one PDU (message_payload) gets one receipt for the whole message.
ALTER TABLE messages ADD COLUMN esme_receipt INTEGER NOT NULL DEFAULT 0;
ALTER TABLE parts ADD COLUMN esme_receipt INTEGER NOT NULL DEFAULT 0;

-- What is owed to ESMEs (receipts now, MO later), kept until a receiver of that system_id
-- acknowledges it: store-and-forward across restarts and nodes. A node sending a row leases it.
CREATE TABLE smpp_outbox (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    system_id     TEXT NOT NULL,
    kind          TEXT NOT NULL,
    message_id    TEXT,
    seq           INTEGER,
    receipted_id  TEXT,
    status        TEXT,
    error_code    TEXT,
    source        TEXT NOT NULL,
    destination   TEXT NOT NULL,
    text          TEXT NOT NULL DEFAULT '',
    submitted_at  REAL,
    done_at       REAL,
    created_at    REAL NOT NULL,
    expires_at    REAL NOT NULL,
    owner         TEXT,
    lease_until   REAL,
    attempts      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX smpp_outbox_pending ON smpp_outbox(system_id, id);
CREATE UNIQUE INDEX smpp_outbox_receipt ON smpp_outbox(message_id, seq) WHERE kind = 'receipt';
