"""Request templates: `{placeholder}` substitution into a configured body and URL.

Deliberately not `str.format`: that would let a configuration reach attributes
(`{text.__class__}`) and fail on any literal brace. Here a placeholder is `{name}` from a fixed
list, `{{` and `}}` are literal braces, and anything else is literal text. Templates are checked
and compiled once at start, so a typo in a placeholder stops start-up, and rendering a part is a
walk over precompiled pieces.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

# The values a part offers a template (see connectors/http/README.md for each).
PLACEHOLDERS = frozenset(
    {
        "to",
        "to_digits",
        "from",
        "text",
        "message_id",
        "part_id",
        "seq",
        "total",
        "encoding",
        "data_coding",
        "udh_hex",
        "hex",
        "callback_url",
    }
)

_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")

Value = str | int
# A compiled string: literal text and placeholder names in order.
_Pieces = tuple[tuple[str, str | None], ...]


class TemplateError(ValueError):
    def __init__(self, message: str, *, where: str) -> None:
        super().__init__(message)
        self.where = where


def _compile_string(text: str, where: str, used: set[str]) -> _Pieces | str:
    """Pieces of a string with placeholders, or the string itself when it has none."""
    pieces: list[tuple[str, str | None]] = []
    last = 0
    for match in _TOKEN.finditer(text):
        if match.start() > last:
            pieces.append((text[last : match.start()], None))
        token = match.group(0)
        if token in ("{{", "}}"):
            pieces.append((token[0], None))
        else:
            name = match.group(1)
            if name not in PLACEHOLDERS:
                known = ", ".join(f"{{{p}}}" for p in sorted(PLACEHOLDERS))
                raise TemplateError(f"unknown placeholder {{{name}}} (known: {known})", where=where)
            used.add(name)
            pieces.append(("", name))
        last = match.end()
    if last < len(text):
        pieces.append((text[last:], None))
    if all(name is None for _, name in pieces):
        return "".join(literal for literal, _ in pieces)
    return tuple(pieces)


class _Node:
    """A compiled template value: a dict, a list, a string with placeholders, or a constant."""

    __slots__ = ("kind", "value")

    def __init__(self, kind: str, value: Any) -> None:
        self.kind = kind
        self.value = value


def _compile(value: Any, where: str, used: set[str], *, flat: bool, top: bool) -> _Node:
    if isinstance(value, Mapping):
        if flat and not top:
            raise TemplateError("form and query bodies are flat: no nested tables", where=where)
        return _Node(
            "dict",
            {
                str(k): _compile(v, f"{where}.{k}", used, flat=flat, top=False)
                for k, v in value.items()
            },
        )
    if isinstance(value, list):
        if flat:
            raise TemplateError("form and query bodies are flat: no lists", where=where)
        items = [
            _compile(v, f"{where}.{i}", used, flat=flat, top=False) for i, v in enumerate(value)
        ]
        return _Node("list", items)
    if isinstance(value, str):
        compiled = _compile_string(value, where, used)
        if isinstance(compiled, str):
            return _Node("const", compiled)
        return _Node("pieces", compiled)
    if value is None or isinstance(value, bool | int | float):
        if flat and value is None:
            raise TemplateError("form and query values cannot be null", where=where)
        return _Node("const", value)
    raise TemplateError(f"unsupported value of type {type(value).__name__}", where=where)


def _render_pieces(pieces: _Pieces, values: Mapping[str, Value]) -> Value:
    # A value that is exactly one placeholder keeps its type: `"{data_coding}"` renders the
    # number 8 in JSON, not the string "8".
    if len(pieces) == 1 and pieces[0][1] is not None:
        return values[pieces[0][1]]
    return "".join(literal if name is None else str(values[name]) for literal, name in pieces)


def _render(node: _Node, values: Mapping[str, Value], flat: bool) -> Any:
    if node.kind == "dict":
        return {k: _render(v, values, flat) for k, v in node.value.items()}
    if node.kind == "list":
        return [_render(v, values, flat) for v in node.value]
    if node.kind == "pieces":
        rendered = _render_pieces(node.value, values)
        return str(rendered) if flat else rendered
    if flat:
        return str(node.value).lower() if isinstance(node.value, bool) else str(node.value)
    return node.value


class Template:
    """The compiled body template and URL of one connector."""

    def __init__(self, body: Mapping[str, Any], *, flat: bool, url: str) -> None:
        used: set[str] = set()
        self._flat = flat
        self._body = _compile(body, "template", used, flat=flat, top=True)
        url_used: set[str] = set()
        self._url = _compile_string(url, "url", url_used)
        self.placeholders = frozenset(used | url_used)

    def render_body(self, values: Mapping[str, Value]) -> Any:
        """The body: nested JSON values, or a flat mapping of strings for form and query."""
        return _render(self._body, values, self._flat)

    def render_url(self, values: Mapping[str, Value]) -> str:
        """The URL with each placeholder's value percent-encoded (a text can hold `/?#&`)."""
        if isinstance(self._url, str):
            return self._url
        return "".join(
            literal if name is None else quote(str(values[name]), safe="")
            for literal, name in self._url
        )
