"""A small mutational fuzzer (no dependencies): stacked byte-level mutations of a seed pool.

Deterministic for a given seed, so a run can be repeated; counts cases and groups crashes by
the place they were raised, keeping the shortest input of each. The coverage-guided engine is
atheris (``--engine atheris``); this one needs nothing installed and is what ``make test`` uses.
"""

from __future__ import annotations

import hashlib
import random
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.fuzz.targets import TARGETS, seeds

CORPUS = Path(__file__).parent / "corpus"
_INTERESTING = (0, 1, 2, 15, 16, 17, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF, 0x7FFFFFFF, 0x80000000)


@dataclass
class Crash:
    key: str  # exception type and where it was raised
    data: bytes
    error: str


@dataclass
class Result:
    target: str
    cases: int = 0
    seconds: float = 0.0
    crashes: dict[str, Crash] = field(default_factory=dict)

    def merge(self, other: Result) -> None:
        self.cases += other.cases
        self.seconds = max(self.seconds, other.seconds)
        for key, crash in other.crashes.items():
            known = self.crashes.get(key)
            if known is None or len(crash.data) < len(known.data):
                self.crashes[key] = crash


def corpus(target: str) -> list[bytes]:
    """The committed regression inputs of a target (crashes found and fixed)."""
    folder = CORPUS / target
    return [p.read_bytes() for p in sorted(folder.glob("*.bin"))] if folder.is_dir() else []


def save(target: str, data: bytes) -> Path:
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"crash-{hashlib.sha1(data).hexdigest()[:12]}.bin"
    path.write_bytes(data)
    return path


class Mutator:
    """``framed``: inputs are PDUs (keep command_length right half the time); ``unicode``:
    inputs are the text target's (two flag octets, then text), so also make random text."""

    def __init__(
        self, rng: random.Random, pool: Sequence[bytes], *, framed: bool, unicode: bool
    ) -> None:
        self.rng = rng
        self.pool = list(pool) or [b""]
        self.framed = framed
        self.unicode = unicode

    def next(self) -> bytes:
        rng = self.rng
        if rng.random() < 0.02:
            return rng.randbytes(rng.randrange(0, 300))
        if self.unicode and rng.random() < 0.3:
            return rng.randbytes(2) + self._text().encode("utf-8", "surrogatepass")
        data = bytearray(rng.choice(self.pool))
        for _ in range(1 + int(rng.expovariate(0.7))):
            self._mutate(data)
        if self.framed and len(data) >= 4 and rng.random() < 0.5:
            # Keep command_length truthful half the time so mutations reach the body.
            data[0:4] = len(data).to_bytes(4, "big")
        return bytes(data)

    def _text(self) -> str:
        rng = self.rng
        # Mostly the alphabets SMS meets (GSM, Latin, Cyrillic, Turkish...), some of anything.
        ranges = ((0x20, 0x7F), (0xA0, 0x180), (0x370, 0x530), (0x2000, 0x2070), (0, 0x110000))
        chars = []
        for _ in range(rng.randrange(1, 400)):
            low, high = rng.choice(ranges)
            chars.append(chr(rng.randrange(low, high)))
        return "".join(chars)

    def _mutate(self, data: bytearray) -> None:
        rng = self.rng
        size = len(data)
        kind = rng.randrange(9)
        if kind == 0 and size:
            data[rng.randrange(size)] ^= 1 << rng.randrange(8)
        elif kind == 1 and size:
            data[rng.randrange(size)] = rng.choice((0, 0xFF, 0x7F, 0x80, rng.randrange(256)))
        elif kind == 2:
            at = rng.randrange(size + 1)
            data[at:at] = rng.randbytes(rng.randrange(1, 16))
        elif kind == 3 and size:
            start = rng.randrange(size)
            del data[start : start + rng.randrange(1, 32)]
        elif kind == 4 and size:
            start = rng.randrange(size)
            piece = data[start : start + rng.randrange(1, 64)]
            at = rng.randrange(size + 1)
            data[at:at] = piece
        elif kind == 5:
            other = rng.choice(self.pool)
            if other:
                start = rng.randrange(len(other))
                cut = rng.randrange(size + 1)
                data[cut:] = other[start : start + rng.randrange(1, 128)]
        elif kind == 6 and size >= 4:
            at = rng.randrange(size - 3)
            value = rng.choice((*_INTERESTING, size, size - 1, size + 1))
            data[at : at + 4] = (value & 0xFFFFFFFF).to_bytes(4, "big")
        elif kind == 7 and size:
            del data[rng.randrange(size) :]
        elif kind == 8 and size:
            # An interesting byte where a field length or a TLV length may be.
            data[rng.randrange(size)] = rng.choice(_INTERESTING) & 0xFF


def run(target: str, cases: int, *, seed: int = 0, deadline: float | None = None) -> Result:
    """Run ``cases`` inputs (or until ``deadline``, a time.monotonic value) against a target."""
    function = TARGETS[target]
    rng = random.Random(f"{target}:{seed}")
    mutator = Mutator(
        rng,
        [*seeds(target), *corpus(target)],
        framed=target == "decoder",
        unicode=target == "text",
    )
    result = Result(target)
    start = time.monotonic()
    for case in range(cases):
        data = mutator.next()
        try:
            function(data)
        except Exception as exc:
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            key = f"{type(exc).__name__} at {Path(frame.filename).name}:{frame.lineno}"
            known = result.crashes.get(key)
            if known is None or len(data) < len(known.data):
                result.crashes[key] = Crash(key, data, f"{type(exc).__name__}: {exc}"[:300])
        if deadline is not None and case % 1024 == 0 and time.monotonic() > deadline:
            result.cases = case + 1
            break
    else:
        result.cases = cases
    result.seconds = time.monotonic() - start
    return result
