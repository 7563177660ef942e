-- Initial schema (SQLite). Times are seconds since the epoch (REAL), identical in both dialects.
CREATE TABLE accounts (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    active      INTEGER NOT NULL DEFAULT 1,
    created_at  REAL NOT NULL
);

-- API keys are 256-bit random secrets, so a SHA-256 digest is a safe lookup key; the plain key
-- is shown once at creation and never stored.
CREATE TABLE api_keys (
    key_hash    TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id),
    prefix      TEXT NOT NULL,
    created_at  REAL NOT NULL,
    revoked_at  REAL
);
CREATE INDEX api_keys_account ON api_keys(account_id);

CREATE TABLE messages (
    id                  TEXT PRIMARY KEY,
    account_id          TEXT NOT NULL REFERENCES accounts(id),
    client_ref          TEXT,
    source              TEXT NOT NULL,
    destination         TEXT NOT NULL,
    body                TEXT NOT NULL,
    encoding            TEXT NOT NULL,
    segments            INTEGER NOT NULL,
    message_type        TEXT NOT NULL,
    registered_delivery INTEGER NOT NULL,
    status              TEXT NOT NULL,
    status_rank         INTEGER NOT NULL,
    error_code          TEXT,
    error_detail        TEXT,
    created_at          REAL NOT NULL,
    updated_at          REAL NOT NULL,
    submitted_at        REAL,
    done_at             REAL,
    send_at             REAL,
    expires_at          REAL
);
CREATE INDEX messages_account_created ON messages(account_id, created_at);

-- One row per segment. `owner` is the node holding the part in its in-memory dispatch queue;
-- NULL means any node may claim it once `due_at` has passed.
CREATE TABLE parts (
    message_id   TEXT NOT NULL REFERENCES messages(id),
    seq          INTEGER NOT NULL,
    total        INTEGER NOT NULL,
    encoding     TEXT NOT NULL,
    data_coding  INTEGER NOT NULL,
    udh          BLOB NOT NULL,
    payload      BLOB NOT NULL,
    connector    TEXT NOT NULL,
    priority     INTEGER NOT NULL,
    status       TEXT NOT NULL,
    status_rank  INTEGER NOT NULL,
    owner        TEXT,
    due_at       REAL NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    upstream_id  TEXT,
    error_code   TEXT,
    error_detail TEXT,
    submitted_at REAL,
    done_at      REAL,
    updated_at   REAL NOT NULL,
    PRIMARY KEY (message_id, seq)
);
-- Receipt correlation: the carrier's id, per connector.
CREATE INDEX parts_upstream ON parts(connector, upstream_id) WHERE upstream_id IS NOT NULL;
-- The dispatch queue: only parts still waiting to be sent are indexed.
CREATE INDEX parts_pending ON parts(priority, due_at) WHERE status = 'queued';
CREATE INDEX parts_pending_owner ON parts(owner) WHERE status = 'queued';

-- Every committed status change, in commit order; webhook and SMPP delivery drain it.
CREATE TABLE events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id  TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    status      TEXT NOT NULL,
    at          REAL NOT NULL
);
CREATE INDEX events_message ON events(message_id);

CREATE TABLE nodes (
    node_id      TEXT PRIMARY KEY,
    heartbeat_at REAL NOT NULL
);
