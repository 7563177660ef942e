-- Opt-out: per-account suppression lists and opt-out settings (postgres).

-- Numbers an account must not send to (for the traffic classes its settings name). Kept per
-- account: a STOP to one brand's number does not unsubscribe the handset from another's.
CREATE TABLE suppressions (
    account_id  TEXT NOT NULL REFERENCES accounts(id),
    number      TEXT NOT NULL,
    reason      TEXT,
    source      TEXT NOT NULL,
    created_at  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (account_id, number)
);

-- One row per account that has changed its list or settings. `version` goes up with every
-- change, so a node's cached copy of the list is checked with one small read, not reloaded.
-- `settings` is the account's OptOutSettings as JSON (NULL: the defaults).
CREATE TABLE optout_accounts (
    account_id  TEXT PRIMARY KEY REFERENCES accounts(id),
    version     BIGINT NOT NULL,
    settings    TEXT,
    updated_at  DOUBLE PRECISION NOT NULL
);
