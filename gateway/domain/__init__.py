"""Pure models and rules: messages, parts, the status lifecycle, accounts and errors. No I/O."""

from gateway.domain.errors import (
    ClientError,
    ConfigError,
    GatewayError,
    InternalError,
    UpstreamError,
)
from gateway.domain.ids import new_id
from gateway.domain.message import (
    Account,
    AppliedUpdates,
    InboundPart,
    InboundRecord,
    MessageRecord,
    MessageType,
    NewMessage,
    NewPart,
    OutboxItem,
    OutboxTake,
    PartKey,
    PartRecord,
    PartUpdate,
    SmppCredential,
    StatusChange,
    parse_public_part_id,
    public_part_id,
)
from gateway.domain.status import Status, aggregate_status, can_transition

__all__ = [
    "Account",
    "AppliedUpdates",
    "ClientError",
    "ConfigError",
    "GatewayError",
    "InboundPart",
    "InboundRecord",
    "InternalError",
    "MessageRecord",
    "MessageType",
    "NewMessage",
    "NewPart",
    "OutboxItem",
    "OutboxTake",
    "PartKey",
    "PartRecord",
    "PartUpdate",
    "SmppCredential",
    "Status",
    "StatusChange",
    "UpstreamError",
    "aggregate_status",
    "can_transition",
    "new_id",
    "parse_public_part_id",
    "public_part_id",
]
