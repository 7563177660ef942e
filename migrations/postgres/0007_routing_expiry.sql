-- The route's price per segment (the message costs price x segments), and an index
-- for the validity sweep, which finds queued messages whose validity ended.
ALTER TABLE messages ADD COLUMN price DOUBLE PRECISION;
CREATE INDEX messages_expiring ON messages(expires_at)
    WHERE expires_at IS NOT NULL AND status IN ('accepted', 'scheduled', 'queued');
