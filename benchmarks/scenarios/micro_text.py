"""micro-text: encode_text (encoding choice and segmentation) and, separately, encode_text plus
render_short_message of every segment (what a connector adds: UDH and septet packing), in
messages per second on one core.

Three texts: (a) a short GSM 7-bit OTP (one segment), (b) a long GSM 7-bit text with extension
characters (escape pairs, four segments), (c) mixed Arabic and emoji, UCS-2 with surrogate
pairs (four segments). Targets from the project: (a) >= 250,000/s, (c) >= 50,000/s on one core.
"""

from __future__ import annotations

from collections.abc import Callable

from benchmarks.modes import Context
from benchmarks.report import ScenarioResult
from benchmarks.timing import ops_per_second
from gateway.text import Encoding, encode_text, render_short_message

SHORT_GSM7 = "Your verification code is 482913. It expires in 10 minutes. Do not share it."
LONG_GSM7 = (
    "Dear customer, order #12345 [priority] has shipped; total {EUR} 99.50 € incl. VAT, "
    "fees ^ 2% | track at https://example.com/t\\x~y "
) * 4
MIXED_UCS2 = "مرحبا بك في خدمتنا 😀 Your code: 4829 ✅ شكرا لك 🚀 " * 4

CASES: tuple[tuple[str, str, Encoding, int, float | None], ...] = (
    # name, text, expected encoding, expected segments, target messages/s
    ("(a) short GSM7, 1 segment", SHORT_GSM7, Encoding.GSM7, 1, 250_000.0),
    ("(b) long GSM7 + extension chars, 4 segments", LONG_GSM7, Encoding.GSM7, 4, None),
    ("(c) Arabic + emoji UCS2, 4 segments", MIXED_UCS2, Encoding.UCS2, 4, 50_000.0),
)


def _encode(text: str) -> Callable[[], object]:
    return lambda: encode_text(text)


def _encode_and_render(text: str) -> Callable[[], object]:
    def one() -> object:
        encoded = encode_text(text)
        return [
            render_short_message(encoded, i, reference=42) for i in range(len(encoded.segments))
        ]

    return one


def run(ctx: Context) -> ScenarioResult:
    result = ScenarioResult("micro-text", ctx.mode.name, "gateway.text in this process, 1 core")
    min_time = ctx.mode.pick(full=1.0, quick=0.25, smoke=0.001)
    max_calls = ctx.mode.pick(full=2_000_000, quick=500_000, smoke=20)
    for name, text, encoding, segments, _target in CASES:
        encoded = encode_text(text)
        result.check(
            f"{name}: encoding and segments",
            encoded.encoding is encoding and len(encoded.segments) == segments,
            f"got {encoded.encoding.value}, {len(encoded.segments)} segment(s)",
        )
    for _ in range(ctx.runs):
        for name, text, _encoding, _segments, target in CASES:
            # The targets are for encode + segment (issue 5); rendering is reported beside them.
            rate = ops_per_second(_encode(text), min_time=min_time, max_calls=max_calls)
            result.figures.record(f"{name}: encode+segment", rate, "msg/s", target=target)
            rate = ops_per_second(_encode_and_render(text), min_time=min_time, max_calls=max_calls)
            result.figures.record(f"{name}: + render (packed)", rate, "msg/s")
        result.runs += 1
    return result
