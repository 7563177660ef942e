-- API keys are stored with a slow salted hash (scrypt), so a key is found by its display prefix
-- and then verified; keys stored before this migration keep their SHA-256 digest and still verify.
CREATE INDEX api_keys_prefix ON api_keys(prefix) WHERE revoked_at IS NULL;
