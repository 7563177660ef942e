-- Usage counters with one row per account, day and shard: each node adds to its own shard
-- (gateway.domain.accounts.usage_shard), so concurrent intake commits of several nodes for one
-- account do not wait for each other's lock on a single row. A new table rather than a new key
-- on account_usage: nodes of the previous version go on upserting account_usage on its key
-- during a rolling upgrade, and the readers add up both tables.
CREATE TABLE account_usage_shards (
    account_id  TEXT NOT NULL REFERENCES accounts(id),
    day         TEXT NOT NULL,
    shard       SMALLINT NOT NULL,
    segments    BIGINT NOT NULL DEFAULT 0,
    spend       DOUBLE PRECISION NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, day, shard)
);
