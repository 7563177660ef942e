"""API keys are stored slow-hashed and salted; keys stored as SHA-256 before still verify."""

from __future__ import annotations

import hashlib

from gateway.keys import display_prefix, generate_key, hash_key, key_digest, verify_key


def test_a_key_is_stored_with_a_salted_slow_hash() -> None:
    key = generate_key()
    stored, again = hash_key(key), hash_key(key)
    assert stored.startswith("scrypt$") and stored != again  # salted
    assert key not in stored and key_digest(key) not in stored
    assert verify_key(key, stored) and verify_key(key, again)
    assert not verify_key(key + "x", stored)
    assert not verify_key(generate_key(), stored)


def test_keys_stored_before_the_slow_hash_still_verify() -> None:
    key = "gw_an-old-key-from-before-0016"
    legacy = hashlib.sha256(key.encode()).hexdigest()
    assert verify_key(key, legacy)
    assert not verify_key("gw_an-old-key-from-before-0017", legacy)


def test_the_lookup_prefix_is_what_listings_show() -> None:
    key = generate_key()
    assert display_prefix(key) == key[:9] and key.startswith("gw_")
