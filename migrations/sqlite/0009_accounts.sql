-- Account settings, usage counters, routes kept in the store, and the version every admin write
-- bumps so each node reloads what changed (SQLite).

-- Per-account limits. NULL or 0: no limit. `allowed_senders` is a comma-separated list of sender
-- ids (a trailing `*` matches a prefix); empty: any valid sender. `price`: per segment, replaces
-- the route's price when set.
ALTER TABLE accounts ADD COLUMN rate_limit REAL NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN daily_quota INTEGER;
ALTER TABLE accounts ADD COLUMN spend_cap REAL;
ALTER TABLE accounts ADD COLUMN allowed_senders TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN price REAL;
ALTER TABLE accounts ADD COLUMN updated_at REAL;

-- Segments and spend per account and UTC day, updated in the transaction that inserts the
-- messages, so what is counted is exactly what was acknowledged.
CREATE TABLE account_usage (
    account_id  TEXT NOT NULL REFERENCES accounts(id),
    day         TEXT NOT NULL,
    segments    INTEGER NOT NULL DEFAULT 0,
    spend       REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, day)
);

-- Routing rules made through the admin API, tried before the configuration file's [[routes]].
-- `rule` is the RouteRule as JSON.
CREATE TABLE route_rules (
    name        TEXT PRIMARY KEY,
    position    INTEGER NOT NULL,
    rule        TEXT NOT NULL,
    updated_at  REAL NOT NULL
);

CREATE TABLE config_version (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    version  INTEGER NOT NULL
);
INSERT INTO config_version (id, version) VALUES (1, 0);
