"""Agreement with the independent ``smsutil`` package on a generated corpus.

smsutil knows the default alphabet, its extension table and UCS2 (no national tables), so the
corpus is compared with ``national_languages=()``. The two disagree only where smsutil departs
from the specification; those cases are pinned down at the bottom.
"""

from __future__ import annotations

import random

import pytest
import smsutil

from gateway.text import Encoding, encode_text
from gateway.text.gsm7 import DEFAULT

GSM_CHARS = sorted(DEFAULT.charset)
EXTENSION = "^{}\\[~]|\u20ac"
UNICODE_POOL = ["a", "b", " ", "\u00e9", "\u0634", "\u4e2d", "\U0001f600", "\U0001f44d", "{"]


def _corpus() -> list[str]:
    rnd = random.Random(23038)
    texts: list[str] = []
    for _ in range(400):  # default alphabet with extension characters, around the limits
        size = rnd.choice([1, 70, 152, 153, 154, 159, 160, 161, 306, 307, 459, 460, 700])
        pool = rnd.choice([GSM_CHARS, [*EXTENSION, "a"], GSM_CHARS + list(EXTENSION) * 20])
        texts.append("".join(rnd.choice(pool) for _ in range(size)))
    for _ in range(400):  # UCS2 with surrogate pairs
        size = rnd.choice([1, 66, 67, 68, 69, 70, 71, 134, 135, 200, 400])
        texts.append("".join(rnd.choice(UNICODE_POOL) for _ in range(size)) + "\u4e2d")
    return texts


CORPUS = _corpus()
SMSUTIL_ENCODING = {"gsm0338": Encoding.GSM7, "utf_16_be": Encoding.UCS2}


@pytest.mark.parametrize("text", CORPUS, ids=[f"{i:03d}" for i in range(len(CORPUS))])
def test_segment_count_and_encoding_agree(text: str) -> None:
    ours = encode_text(text, national_languages=())
    theirs = smsutil.split(text)
    assert ours.encoding is SMSUTIL_ENCODING[theirs.encoding]
    assert len(ours.segments) == len(theirs.parts)
    assert [s.text for s in ours.segments] == [p.content for p in theirs.parts]


def test_disagreement_escape_character_is_not_text() -> None:
    # smsutil accepts U+001B as a GSM character and emits a bare 0x1B, which every receiver
    # reads as the escape to the extension table (TS 23.038 §6.2.1, code 0x1B): the next
    # character would be garbled. It is not a character, so UCS2 is the right answer.
    assert smsutil.split("a\x1bb").encoding == "gsm0338"
    assert encode_text("a\x1bb", national_languages=()).encoding is Encoding.UCS2


def test_disagreement_empty_text() -> None:
    # smsutil's GSM check is a regex requiring at least one character, so "" becomes UTF-16.
    # An empty message is representable in the default alphabet (and cheaper to mark so).
    assert smsutil.split("").encoding == "utf_16_be"
    assert encode_text("").encoding is Encoding.GSM7
