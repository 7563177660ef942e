-- Submitted parts waiting for their delivery receipt, oldest first: the receipt-timeout sweep
-- (dispatch) reads these every few seconds and marks the ones whose receipt never came
-- `expired`. Partial, so it holds only the parts in flight at the carrier.
CREATE INDEX parts_awaiting_receipt ON parts(submitted_at) WHERE status = 'submitted';
