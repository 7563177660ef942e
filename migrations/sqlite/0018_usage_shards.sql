-- Usage counters with one row per account, day and shard: each node adds to its own shard
-- (gateway.domain.accounts.usage_shard). A new table rather than a new key on account_usage:
-- nodes of the previous version go on upserting account_usage on its key during an upgrade,
-- and the readers add up both tables.
CREATE TABLE account_usage_shards (
    account_id  TEXT NOT NULL REFERENCES accounts(id),
    day         TEXT NOT NULL,
    shard       INTEGER NOT NULL,
    segments    INTEGER NOT NULL DEFAULT 0,
    spend       REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, day, shard)
);
