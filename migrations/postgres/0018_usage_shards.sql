-- One usage counter row per account, day and shard: each node adds to its own shard
-- (gateway.domain.accounts.usage_shard), so concurrent intake commits of several nodes for one
-- account no longer wait for each other's lock on a single row. Readers sum the shards.
ALTER TABLE account_usage ADD COLUMN shard SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE account_usage DROP CONSTRAINT account_usage_pkey;
ALTER TABLE account_usage ADD PRIMARY KEY (account_id, day, shard);
