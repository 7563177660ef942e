"""Choice of encoding for an outbound text, and the entry point ``encode_text``.

The cheapest encoding that carries the text exactly wins, counted in segments (the unit of cost,
ARCHITECTURE.md invariant 4): the GSM 7-bit default alphabet, then GSM 7-bit with a national
single and/or locking shift table (their UDH IEs cost room in every segment, TS 23.040
§9.2.3.24.15/16), then UCS2. Ties go to the earlier, more widely supported choice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from gateway.text import gsm7
from gateway.text.codecs import (
    DATA_CODING,
    LATIN1,
    UCS2,
    Codec,
    Encoding,
    Gsm7Codec,
    UnencodableText,
    codec_for,
    first_appearance,
)
from gateway.text.frozen import positional_factory
from gateway.text.national import (
    DEFAULT_NATIONAL,
    LOCKING_TABLES,
    SINGLE_SHIFT_TABLES,
    NationalLanguage,
)
from gateway.text.segment import EncodedText, Segment, cut_points, limits, split
from gateway.text.transliteration import transliterate as transliterate_text

_NO_PAIRS: Final[tuple[tuple[str, str], ...]] = ()
_GSM7_DATA_CODING: Final = DATA_CODING[Encoding.GSM7]
# TS 23.040 §9.2.3.16 via segment.limits: 160 septets in a single segment without UDH.
_DEFAULT_SINGLE, _DEFAULT_MULTI = limits(Encoding.GSM7, ref16=False, national_ies=0)
_DEFAULT_SINGLE16, _DEFAULT_MULTI16 = limits(Encoding.GSM7, ref16=True, national_ies=0)
_DEFAULT_CODEC: Final = Gsm7Codec()
_new_encoded: Final = positional_factory(EncodedText)  # hot path: see gateway.text.frozen
_new_segment: Final = positional_factory(Segment)
_DEFAULT_ENCODE: Final = gsm7.DEFAULT.encode


@dataclass(frozen=True, slots=True)
class _Candidate:
    """A national shift configuration that may carry a text the default alphabet cannot."""

    language: NationalLanguage
    locking: bool
    single: bool
    codec: Gsm7Codec
    limits8: tuple[int, int]
    limits16: tuple[int, int]
    # Default-extension characters this configuration holds in one septet: only a text using
    # some of them can need fewer segments here than with the default alphabet.
    direct: frozenset[str]


@dataclass(frozen=True, slots=True)
class _Plan:
    candidates: tuple[_Candidate, ...]
    charset: frozenset[str]  # everything some GSM 7-bit configuration can carry


@lru_cache(maxsize=64)
def _plan(languages: tuple[NationalLanguage, ...]) -> _Plan:
    candidates: list[_Candidate] = []
    for language in dict.fromkeys(languages):
        # Single shift first: one IE less than locking + single, and a handset that ignores the
        # IE still shows the default alphabet for most of the text (TS 23.038 Annex C).
        options = (
            (False, language in SINGLE_SHIFT_TABLES),
            (language in LOCKING_TABLES, False),
            (language in LOCKING_TABLES, language in SINGLE_SHIFT_TABLES),
        )
        for locking, single in dict.fromkeys(options):
            if not (locking or single):
                continue
            ies = int(locking) + int(single)
            codec = Gsm7Codec(language if locking else None, language if single else None)
            candidates.append(
                _Candidate(
                    language,
                    locking,
                    single,
                    codec,
                    limits(Encoding.GSM7, ref16=False, national_ies=ies),
                    limits(Encoding.GSM7, ref16=True, national_ies=ies),
                    gsm7.DEFAULT.escaped & (codec.alphabet.charset - codec.alphabet.escaped),
                )
            )
    charset = gsm7.DEFAULT.charset.union(*(c.codec.alphabet.charset for c in candidates))
    return _Plan(tuple(candidates), charset)


_DEFAULT_PLAN: Final = _plan(DEFAULT_NATIONAL)


_PREFIX: Final = 32


def _gsm7(
    text: str,
    plan: _Plan,
    ref16: bool,
    replaced: tuple[tuple[str, str], ...],
    septets: bytes | None = None,
    *,
    encoded_default: bool = False,
) -> EncodedText | None:
    """The cheapest GSM 7-bit encoding of ``text``, or None when none can carry it.

    With ``encoded_default`` the caller already tried the default alphabet: ``septets``.
    """
    if not encoded_default:
        if not text.isascii() and not plan.charset.issuperset(text[:_PREFIX]):
            return None  # cheap early exit for most UCS2 texts
        septets = gsm7.DEFAULT.encode(text)
    if septets is not None:
        if len(septets) <= _DEFAULT_SINGLE:  # hot path: one segment, default alphabet
            return _new_encoded(
                Encoding.GSM7,
                _GSM7_DATA_CODING,
                (_new_segment(text, septets, len(septets)),),
                None,
                False,
                False,
                replaced,
                None,
                ref16,
            )
        multi = _DEFAULT_MULTI16 if ref16 else _DEFAULT_MULTI
        count = len(cut_points(_DEFAULT_CODEC, septets, _DEFAULT_SINGLE, multi))
        # A locking shift table can hold default-extension characters directly (Portuguese has
        # ^ \ | ~ and the euro sign), so an escape-heavy text may need fewer segments with it.
        better = (
            _national(text, plan, ref16, below=count, default_septets=len(septets))
            if gsm7.ESCAPE in septets and plan.candidates
            else None
        )
        if better is not None:
            return _with_replaced(better, replaced)
        segments = split(_DEFAULT_CODEC, text, septets, _DEFAULT_SINGLE, multi)
        return _new_encoded(
            Encoding.GSM7, _GSM7_DATA_CODING, segments, None, False, False, replaced, None, ref16
        )
    if not plan.candidates or not plan.charset.issuperset(text):
        return None
    best = _national(text, plan, ref16, below=None, default_septets=0)
    return None if best is None else _with_replaced(best, replaced)


def _with_replaced(encoded: EncodedText, replaced: tuple[tuple[str, str], ...]) -> EncodedText:
    if not replaced:
        return encoded
    return _new_encoded(
        encoded.encoding,
        encoded.data_coding,
        encoded.segments,
        encoded.national,
        encoded.locking_shift,
        encoded.single_shift,
        replaced,
        encoded.forced_charset,
        encoded.ref16,
    )


def _national(
    text: str, plan: _Plan, ref16: bool, below: int | None, default_septets: int
) -> EncodedText | None:
    """The national configuration with the fewest segments (fewer than ``below`` if given,
    for a text whose default-alphabet encoding has ``default_septets`` septets)."""
    chars: set[str] | None = None
    best: tuple[int, _Candidate, bytes] | None = None
    for candidate in plan.candidates:
        if below is not None:
            direct = [char for char in candidate.direct if char in text]
            if not direct:
                continue
            # A lower bound on the septets here: only the characters this table holds
            # directly can save their escape.
            floor = default_septets - sum(text.count(char) for char in direct)
            single, multi = candidate.limits16 if ref16 else candidate.limits8
            if floor > single and -(-floor // multi) >= below:
                continue
        if chars is None:
            chars = set(text)
        if not candidate.codec.alphabet.charset.issuperset(chars):
            continue
        septets = candidate.codec.alphabet.encode(text)
        if septets is None:  # pragma: no cover - charset and encoder agree by construction
            continue
        single, multi = candidate.limits16 if ref16 else candidate.limits8
        count = len(cut_points(candidate.codec, septets, single, multi))
        if (below is None or count < below) and (best is None or count < best[0]):
            best = (count, candidate, septets)
    if best is None:
        return None
    _, candidate, septets = best
    single, multi = candidate.limits16 if ref16 else candidate.limits8
    return _new_encoded(
        Encoding.GSM7,
        _GSM7_DATA_CODING,
        split(candidate.codec, text, septets, single, multi),
        candidate.language,
        candidate.locking,
        candidate.single,
        (),
        None,
        ref16,
    )


def ucs2_forced_by(text: str, charset: frozenset[str]) -> tuple[str, ...]:
    """Characters no GSM 7-bit configuration (`charset`: all the tried tables carry) can carry;
    if each one alone could, but no single configuration carries them all, the characters
    outside the default alphabet."""
    bad = _distinct_outside(text, charset)
    return bad or _distinct_outside(text, gsm7.DEFAULT.charset)


_PEEL_LIMIT: Final = 32


def _distinct_outside(text: str, charset: frozenset[str]) -> tuple[str, ...]:
    """Distinct characters of ``text`` not in ``charset``, in order of first appearance.

    Iterating a non-latin-1 str allocates one object per character (set(text) costs ~40 ns a
    character), so distinct characters are peeled off with str.replace (C) instead, one per
    round; after _PEEL_LIMIT rounds (a text with many distinct characters, e.g. CJK) the
    remainder goes through a set.
    """
    found: list[str] = []
    rest = text
    for _ in range(_PEEL_LIMIT):
        if not rest:
            return tuple(found)
        char = rest[0]
        if char not in charset:
            found.append(char)
        rest = rest.replace(char, "")
    return tuple(found) + first_appearance(rest, set(rest) - charset)


def _plain(
    codec: Codec,
    text: str,
    ref16: bool,
    replaced: tuple[tuple[str, str], ...] = _NO_PAIRS,
    forced_charset: frozenset[str] | None = None,
) -> EncodedText:
    payload = codec.encode(text)
    single, multi = limits(codec.encoding, ref16=ref16, national_ies=0)
    return _new_encoded(
        codec.encoding,
        DATA_CODING[codec.encoding],
        split(codec, text, payload, single, multi),
        None,
        False,
        False,
        replaced,
        forced_charset,
        ref16,
    )


def encode_text(
    text: str,
    *,
    encoding: Encoding | None = None,
    transliterate: bool = False,
    national_languages: Iterable[NationalLanguage] = DEFAULT_NATIONAL,
    ref16: bool = False,
) -> EncodedText:
    """Encode and split ``text`` for SMS.

    Without ``encoding`` the cheapest exact encoding is chosen (see the module docstring);
    ``ucs2_forced_by`` then names the characters that made UCS2 necessary. With ``encoding`` the
    text is encoded in that one (GSM7 still may use ``national_languages``) or UnencodableText
    is raised naming the characters that do not fit; nothing is ever replaced by '?'.

    ``transliterate`` maps typographic punctuation and spaces to default-alphabet equivalents
    (reported in ``replaced``), but only when that is what lets the text avoid UCS2 (or fit the
    pinned encoding); a text that needs UCS2 anyway is sent untouched.

    ``ref16`` sizes segments for a 16-bit concatenation reference (IEI 0x08, TS 23.040
    §9.2.3.24.8); render such texts with ``Concatenation.UDH16``.
    """
    if encoding is None or encoding is Encoding.GSM7:
        # Hot path, inlined: ASCII text, default alphabet, one segment.
        ascii_text = text.isascii()
        septets = _DEFAULT_ENCODE(text) if ascii_text else None
        if septets is not None and len(septets) <= _DEFAULT_SINGLE:
            return _new_encoded(
                Encoding.GSM7,
                _GSM7_DATA_CODING,
                (_new_segment(text, septets, len(septets)),),
                None,
                False,
                False,
                _NO_PAIRS,
                None,
                ref16,
            )
    plan = (
        _DEFAULT_PLAN
        if national_languages is DEFAULT_NATIONAL
        else _plan(tuple(national_languages))
    )
    if encoding is None or encoding is Encoding.GSM7:
        encoded = _gsm7(text, plan, ref16, _NO_PAIRS, septets, encoded_default=ascii_text)
        if encoded is not None:
            return encoded
        if transliterate:
            changed, replaced = transliterate_text(text)
            if replaced:
                encoded = _gsm7(changed, plan, ref16, replaced)
                if encoded is not None:
                    return encoded
        if encoding is Encoding.GSM7:
            raise UnencodableText(Encoding.GSM7, ucs2_forced_by(text, plan.charset))
        return _plain(UCS2, text, ref16, forced_charset=plan.charset)
    if encoding is Encoding.LATIN1 and transliterate:
        try:
            return _plain(LATIN1, text, ref16)
        except UnencodableText:
            changed, replaced = transliterate_text(text)
            if not replaced:
                raise
            return _plain(LATIN1, changed, ref16, replaced)
    return _plain(codec_for(encoding), text, ref16)


def encode_binary(data: bytes, *, ref16: bool = False) -> EncodedText:
    """Split raw octets (data_coding 4) into segments; ``Segment.text`` holds them as latin-1."""
    return _plain(codec_for(Encoding.BINARY), data.decode("latin-1"), ref16)
