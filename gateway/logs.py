"""Structured logs: one JSON object per line on stderr.

Message bodies are never logged and numbers are masked (`gateway.phone.mask`) by the callers; this
module only formats.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from typing import Any

# The id of the HTTP request being served (gateway.api.request_ids sets it): every log line
# written while serving it carries it, so one request's lines can be found together.
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _RESERVED})
        current = request_id.get()
        if current is not None:
            entry.setdefault("request_id", current)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.Formatter.converter = time.gmtime
    # uvicorn's access log would print every request at INFO: too much for a gateway.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    # httpx logs every request's full URL at INFO: one line per webhook event or carrier
    # submit, and a URL may carry a secret (a webhook token, a carrier's `secret_query` key).
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
