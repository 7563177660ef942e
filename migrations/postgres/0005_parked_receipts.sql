-- Receipts that arrived before the carrier's id was stored (a fast carrier, or another node's
-- submit): kept durably, because the carrier has been told we have them, and matched as soon
-- as the id is stored.
CREATE TABLE parked_receipts (
    connector    TEXT NOT NULL,
    upstream_id  TEXT NOT NULL,
    status       TEXT NOT NULL,
    raw_state    TEXT NOT NULL,
    error_code   TEXT,
    received_at  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (connector, upstream_id)
);
CREATE INDEX parked_receipts_received ON parked_receipts(received_at);
