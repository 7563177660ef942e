-- The SMPP outbox is a queue: each row is inserted, leased by a claim (owner, lease_until,
-- attempts: no indexed column) and deleted. Room left on each page lets the claim's update be
-- a heap-only tuple, written on the same page without a new entry in each of the table's
-- indexes.
ALTER TABLE smpp_outbox SET (fillfactor = 70);
