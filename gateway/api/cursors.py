"""Opaque pagination cursors: the keyset position of a page's last row, base64url-encoded.

Clients must treat a cursor as a token; its content may change. A malformed one is refused with
`request.invalid_cursor` rather than silently restarting from the first page.
"""

from __future__ import annotations

import base64
import binascii
import json
import math

from gateway.domain.errors import InvalidCursor
from gateway.domain.ids import is_valid_id
from gateway.domain.listing import Position


def encode_cursor(position: Position) -> str:
    raw = json.dumps([position.at, position.id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> Position | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, row_id = json.loads(raw)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise InvalidCursor("the cursor is not one this API returned") from exc
    if (
        not isinstance(at, int | float)
        or isinstance(at, bool)
        or not math.isfinite(at)
        or not isinstance(row_id, str)
        or not is_valid_id(row_id)
    ):
        raise InvalidCursor("the cursor is not one this API returned")
    return Position(float(at), row_id)
