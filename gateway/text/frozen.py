"""Fast construction of frozen slots dataclasses on the hot path.

A frozen dataclass's generated ``__init__`` sets every field through ``object.__setattr__``
(its own ``__setattr__`` refuses), which makes building an ``EncodedText`` cost more than
encoding a short text. ``positional_factory`` builds the instance through an unfrozen twin with
the same slots and then retypes it; the result is an ordinary, immutable instance of the frozen
class. CPython allows the ``__class__`` change because the two layouts are identical.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, make_dataclass
from typing import Any, TypeVar

T = TypeVar("T")


def positional_factory(cls: type[T]) -> Callable[..., T]:
    """A constructor taking every field of ``cls`` positionally, without validation."""
    spec = [(f.name, f.type) for f in fields(cls)]  # type: ignore[arg-type]
    twin: Any = make_dataclass(f"_{cls.__name__}Builder", spec, slots=True)

    def build(*values: object) -> T:
        instance = twin(*values)
        instance.__class__ = cls
        return instance  # type: ignore[no-any-return]

    return build
