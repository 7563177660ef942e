-- Message listing, per-part upstream state, and webhooks with a durable outbox (PostgreSQL).

-- The carrier's own state word of the part's last applied transition (DELIVRD, UNDELIV, ...).
ALTER TABLE parts ADD COLUMN raw_state TEXT;

-- Keyset pagination of an account's messages and inbound messages, newest first, on
-- (created_at, id): the id breaks ties so a page boundary never skips or repeats a row. These
-- replace the (account_id, created_at) indexes, which they cover.
CREATE INDEX messages_account_created_id ON messages(account_id, created_at, id);
DROP INDEX messages_account_created;
CREATE INDEX inbound_account_received_id ON inbound(account_id, received_at, id);
DROP INDEX inbound_account;

-- One webhook per account. `last_sequence` numbers the account's events; the lease columns
-- make one node at a time the sender of an account's stream, so events go out in order.
CREATE TABLE webhooks (
    account_id    TEXT PRIMARY KEY REFERENCES accounts(id),
    url           TEXT NOT NULL,
    events        TEXT NOT NULL,
    secret        TEXT NOT NULL,
    last_sequence BIGINT NOT NULL DEFAULT 0,
    owner         TEXT,
    lease_until   DOUBLE PRECISION,
    retry_at      DOUBLE PRECISION,
    failures      INTEGER NOT NULL DEFAULT 0,
    created_at    DOUBLE PRECISION NOT NULL,
    updated_at    DOUBLE PRECISION NOT NULL
);

-- The webhook outbox, written in the transaction of the status change or inbound message it
-- reports; kept after delivery (until purged) so events can be replayed.
CREATE TABLE webhook_events (
    id          BIGSERIAL PRIMARY KEY,
    account_id  TEXT NOT NULL,
    sequence    BIGINT NOT NULL,
    event_id    TEXT NOT NULL,
    type        TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  DOUBLE PRECISION NOT NULL,
    state       TEXT NOT NULL DEFAULT 'pending',
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    finished_at DOUBLE PRECISION,
    UNIQUE (account_id, sequence)
);
CREATE INDEX webhook_events_pending ON webhook_events(account_id, sequence) WHERE state = 'pending';
CREATE INDEX webhook_events_created ON webhook_events(account_id, created_at);
CREATE INDEX webhook_events_finished ON webhook_events(finished_at) WHERE state <> 'pending';
