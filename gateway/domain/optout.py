"""Per-account opt-out policy: the suppression list's entries and the account's settings
(which traffic classes a suppression blocks, quiet hours, keyword replies). Pure data."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from gateway.domain.message import MessageType


@dataclass(frozen=True, slots=True)
class Suppression:
    number: str  # E.164
    reason: str | None
    source: str  # "api", "admin" or "keyword"
    created_at: float


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A daily window in the recipient's local time during which messages of `types` are held
    until it ends. `start` and `end` are minutes after local midnight; start > end spans
    midnight (21:00-08:00). start == end means no window. Off until the account turns it on:
    a gateway that silently delays what it was asked to send surprises more than it protects."""

    enabled: bool = False
    start: int = 21 * 60
    end: int = 8 * 60
    types: frozenset[MessageType] = frozenset({MessageType.PROMOTIONAL})

    def applies_to(self, message_type: MessageType) -> bool:
        # OTP is never held: a code that arrives after the window is a code that has expired.
        return (
            self.enabled
            and self.start != self.end
            and message_type is not MessageType.OTP
            and message_type in self.types
        )


@dataclass(frozen=True, slots=True)
class OptOutSettings:
    # Traffic classes a suppressed number does not receive. Promotional by default, as
    # carriers require; an account may extend it to transactional (OTP only explicitly).
    enforce: frozenset[MessageType] = frozenset({MessageType.PROMOTIONAL})
    quiet_hours: QuietHours = field(default_factory=QuietHours)
    keyword_replies: bool = True
    # None: the default reply in the keyword's language (gateway.domain.keywords).
    stop_reply: str | None = None
    start_reply: str | None = None
    help_reply: str | None = None

    def to_json(self) -> str:
        data = asdict(self)
        data["enforce"] = sorted(t.value for t in self.enforce)
        data["quiet_hours"]["types"] = sorted(t.value for t in self.quiet_hours.types)
        return json.dumps(data, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> OptOutSettings:
        data = json.loads(text)
        quiet = data.get("quiet_hours", {})
        return cls(
            enforce=frozenset(MessageType(t) for t in data.get("enforce", ["promotional"])),
            quiet_hours=QuietHours(
                enabled=bool(quiet.get("enabled", False)),
                start=int(quiet.get("start", 21 * 60)),
                end=int(quiet.get("end", 8 * 60)),
                types=frozenset(MessageType(t) for t in quiet.get("types", ["promotional"])),
            ),
            keyword_replies=bool(data.get("keyword_replies", True)),
            stop_reply=data.get("stop_reply"),
            start_reply=data.get("start_reply"),
            help_reply=data.get("help_reply"),
        )


DEFAULT_SETTINGS = OptOutSettings()
