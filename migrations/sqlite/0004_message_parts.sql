-- How many part rows a message has once all are in, when that differs from its billed
-- segments: a connector that sends a long text as one PDU (message_payload) stores one part for
-- several segments. NULL: the same as segments.
ALTER TABLE messages ADD COLUMN parts INTEGER;
