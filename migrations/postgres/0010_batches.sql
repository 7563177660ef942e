-- Batches (one request, many recipients), stored templates and the Idempotency-Key records
-- of REST submits.

-- A batch as submitted: its counts are fixed at commit; statuses are read from its messages.
CREATE TABLE batches (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts(id),
    created_at    DOUBLE PRECISION NOT NULL,
    recipients    INTEGER NOT NULL,
    accepted      INTEGER NOT NULL,
    rejected      INTEGER NOT NULL,
    message_type  TEXT NOT NULL,
    source        TEXT NOT NULL,
    client_ref    TEXT
);
CREATE INDEX batches_account_created ON batches(account_id, created_at);

ALTER TABLE messages ADD COLUMN batch_id TEXT;
CREATE INDEX messages_batch ON messages(batch_id) WHERE batch_id IS NOT NULL;

-- The first accepted response to a request carrying an Idempotency-Key, written in the
-- transaction that commits its messages; a retry with the same key gets this response back.
CREATE TABLE idempotency_keys (
    account_id   TEXT NOT NULL,
    key          TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    status_code  INTEGER NOT NULL,
    body         BYTEA NOT NULL,
    created_at   DOUBLE PRECISION NOT NULL,
    expires_at   DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (account_id, key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys(expires_at);

-- Stored templates: a batch may name one instead of carrying its text.
CREATE TABLE message_templates (
    account_id  TEXT NOT NULL REFERENCES accounts(id),
    name        TEXT NOT NULL,
    text        TEXT NOT NULL,
    created_at  DOUBLE PRECISION NOT NULL,
    updated_at  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (account_id, name)
);
