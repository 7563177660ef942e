-- The queued parts no node holds: what a claim looks for. parts_pending also holds the queued
-- parts that nodes have claimed or intake handed them, and a claim walked past all of those
-- first, in the event loop: 28 ms per claim with 200,000 held by a node that died, until
-- release_stale frees them. Parts that intake hands to its own node never enter this index,
-- so the SMPP and REST pipeline pays nothing for it.
CREATE INDEX parts_claimable ON parts(priority, due_at) WHERE status = 'queued' AND owner IS NULL;
