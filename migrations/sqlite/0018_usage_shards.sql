-- One usage counter row per account, day and shard: each node adds to its own shard
-- (gateway.domain.accounts.usage_shard); readers sum the shards. SQLite cannot change a primary
-- key in place, so the table is rebuilt; the existing rows become shard 0.
CREATE TABLE account_usage_sharded (
    account_id  TEXT NOT NULL REFERENCES accounts(id),
    day         TEXT NOT NULL,
    shard       INTEGER NOT NULL DEFAULT 0,
    segments    INTEGER NOT NULL DEFAULT 0,
    spend       REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, day, shard)
);
INSERT INTO account_usage_sharded (account_id, day, shard, segments, spend)
    SELECT account_id, day, 0, segments, spend FROM account_usage;
DROP TABLE account_usage;
ALTER TABLE account_usage_sharded RENAME TO account_usage;
