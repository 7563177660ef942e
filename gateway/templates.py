"""Message templates: `{{name}}` placeholders filled from per-recipient variables.

The syntax, precisely (pure functions, no I/O):

- A placeholder is `{{`, optional whitespace, a name (`[A-Za-z_][A-Za-z0-9_]*`), optional
  whitespace, an optional default `|text`, and `}}`: `{{name}}`, `{{ name }}`, `{{name|friend}}`,
  `{{ name | dear friend }}`. The default is the text between `|` and `}}` with its ends trimmed;
  it may be empty and may not contain a brace.
- The default is used when the recipient has no such variable; a variable that is present but
  empty renders as empty. Without a default, a missing variable is the recipient's error
  (`template.missing_variable`), never a blank in a sent message.
- A run of three or more `{` opens the placeholder at its last two braces, so `{{{name}}}`
  renders `{`, the value, `}`. After a placeholder's `}}`, further braces are literal.
- `\\` directly before a run of two or more `{` makes the whole run literal: `\\{{name}}` renders
  `{{name}}`. Any other backslash, single brace or `}}` is literal text.
- Values are inserted as they are: braces in a value are never expanded again.
- Anything else that starts with `{{` and is not a placeholder (an unclosed one, an invalid name)
  is a syntax error of the whole template (`template.invalid`), reported with its offset.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from gateway.domain.errors import InvalidTemplate, MissingVariable

# After the opening braces: whitespace, name, whitespace, optional |default, closing braces.
_PLACEHOLDER_BODY = re.compile(
    r"\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*(?:\|(?P<default>[^{}]*?))?\s*\}\}"
)
# Where the scanner has to look: a backslash or a run of opening braces.
_SPECIAL = re.compile(r"\\|\{{2,}")


@dataclass(frozen=True, slots=True)
class Placeholder:
    name: str
    default: str | None  # None: the variable is required


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed template: literal text and placeholders in order."""

    pieces: tuple[str | Placeholder, ...]

    @property
    def variables(self) -> frozenset[str]:
        return frozenset(p.name for p in self.pieces if isinstance(p, Placeholder))

    @property
    def required(self) -> frozenset[str]:
        return frozenset(
            p.name for p in self.pieces if isinstance(p, Placeholder) and p.default is None
        )

    def render(self, values: Mapping[str, str]) -> str:
        """The text for one recipient, or `MissingVariable` naming every variable it lacks."""
        out: list[str] = []
        missing: list[str] = []
        for piece in self.pieces:
            if isinstance(piece, str):
                out.append(piece)
                continue
            value = values.get(piece.name)
            if value is None:
                if piece.default is None:
                    missing.append(piece.name)
                    continue
                value = piece.default
            out.append(value)
        if missing:
            names = list(dict.fromkeys(missing))
            raise MissingVariable(
                "no value for " + ", ".join(f"{{{{{n}}}}}" for n in names), variables=names
            )
        return "".join(out)


def parse_template(text: str) -> Template:
    """Parse `text` by the rules above; `InvalidTemplate` with the offset of the first error."""
    pieces: list[str | Placeholder] = []
    literal: list[str] = []
    position = 0
    while True:
        match = _SPECIAL.search(text, position)
        if match is None:
            literal.append(text[position:])
            break
        literal.append(text[position : match.start()])
        found = match.group()
        if found == "\\":
            run = re.match(r"\{{2,}", text[match.end() :])
            if run is None:  # an ordinary backslash
                literal.append("\\")
                position = match.end()
            else:  # an escaped run of braces: literal, backslash dropped
                literal.append(run.group())
                position = match.end() + run.end()
            continue
        literal.append(found[:-2])  # extra braces before the last two are literal
        body = _PLACEHOLDER_BODY.match(text, match.end())
        if body is None:
            raise InvalidTemplate(
                f"'{{{{' at offset {match.end() - 2} does not start a placeholder such as"
                " {{name}} or {{name|default}}; write \\{{ for literal braces",
                offset=match.end() - 2,
            )
        if literal:
            pieces.append("".join(literal))
            literal = []
        default = body.group("default")
        pieces.append(Placeholder(body.group("name"), None if default is None else default.strip()))
        position = body.end()
    tail = "".join(literal)
    if tail:
        pieces.append(tail)
    return Template(tuple(pieces))


def escape_literal(text: str) -> str:
    """A template that renders exactly `text`: every run of two or more `{` gets a `\\`."""
    return re.sub(r"\{{2,}", lambda m: "\\" + m.group(), text)
