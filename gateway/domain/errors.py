"""One error hierarchy with stable string codes.

Three families, as asyncpg splits its errors: ``ClientError`` (the caller's input: rendered as a
4xx problem+json or an SMPP error status), ``UpstreamError`` (what a carrier reported, with its raw
code and whether retrying may help) and ``InternalError`` (our fault). The ``code`` is a stable
contract with users: never reword one, add a new one.
"""

from __future__ import annotations

from typing import Any, ClassVar


class GatewayError(Exception):
    code: ClassVar[str] = "internal.error"
    http_status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class ClientError(GatewayError):
    code = "request.invalid"
    http_status = 400
    title = "Invalid request"


class InternalError(GatewayError):
    pass


class ConfigError(GatewayError):
    """A setting is invalid; start-up stops with one line naming it."""

    code = "config.invalid"


class UpstreamError(GatewayError):
    """A carrier refused or failed a part. ``temporary`` decides retry versus final failure;
    ``throttled`` says the carrier asked us to slow down (ESME_RTHROTTLED, HTTP 429): not the
    part's fault, so it is retried without counting as an attempt and the rate is lowered."""

    code = "upstream.error"
    http_status = 502
    title = "Upstream error"

    def __init__(
        self,
        detail: str,
        *,
        raw_code: str,
        temporary: bool,
        throttled: bool = False,
        **extra: Any,
    ) -> None:
        super().__init__(detail, **extra)
        self.raw_code = raw_code
        self.temporary = temporary or throttled
        self.throttled = throttled


def _client_error(code: str, status: int, title: str) -> type[ClientError]:
    return type(
        "".join(p.title() for p in code.replace(".", "_").split("_")) + "Error",
        (ClientError,),
        {"code": code, "http_status": status, "title": title},
    )


# The catalogue of client errors: code, HTTP status, title. The API lists these in OpenAPI.
Unauthorized = _client_error("auth.unauthorized", 401, "Missing or invalid API key")
AdminUnauthorized = _client_error("auth.admin_unauthorized", 401, "Missing or invalid admin key")
AuthThrottled = _client_error(
    "auth.throttled", 429, "Too many failed authentication attempts from this address"
)
NotFound = _client_error("message.not_found", 404, "No such message")
InvalidNumber = _client_error("message.invalid_number", 422, "Invalid phone number")
EmptyText = _client_error("message.empty_text", 422, "Empty message text")
TextTooLong = _client_error("message.text_too_long", 422, "Message text too long")
InvalidSender = _client_error("message.invalid_sender", 422, "Invalid sender ID")
UnencodableText = _client_error(
    "message.unencodable_text", 422, "Text cannot be carried in the requested encoding"
)
InvalidSchedule = _client_error(
    "message.invalid_schedule", 422, "send_at or validity outside the allowed range"
)
ValidationFailed = _client_error("request.validation_failed", 422, "Request validation failed")
MalformedRequest = _client_error("request.malformed", 400, "Malformed request body")
QueueFull = _client_error("gateway.queue_full", 429, "Too many messages waiting; retry later")
ShuttingDown = _client_error(
    "gateway.shutting_down", 503, "Gateway is draining; retry on another node"
)
# Batches, templates, idempotency keys and cancellation (issue 8).
InvalidTemplate = _client_error("template.invalid", 422, "Invalid message template")
MissingVariable = _client_error(
    "template.missing_variable", 422, "A template variable has no value for this recipient"
)
BatchNotFound = _client_error("batch.not_found", 404, "No such batch")
TemplateNotFound = _client_error("template.not_found", 404, "No such stored template")
NotCancellable = _client_error(
    "message.not_cancellable", 409, "The message is already being sent or is done"
)
IdempotencyKeyMismatch = _client_error(
    "idempotency.key_mismatch", 422, "Idempotency-Key reused with a different request"
)
IdempotencyInProgress = _client_error(
    "idempotency.in_progress", 409, "A request with this Idempotency-Key is still in progress"
)
RecipientOptedOut = _client_error(
    "recipient.opted_out", 422, "Recipient has opted out of this kind of message"
)
SuppressionNotFound = _client_error(
    "suppression.not_found", 404, "Number is not on the suppression list"
)
AccountNotFound = _client_error("account.not_found", 404, "No such account")
# Listing and webhooks (events branch).
InvalidCursor = _client_error("request.invalid_cursor", 400, "Invalid pagination cursor")
WebhookNotFound = _client_error("webhook.not_found", 404, "No webhook for this account")
WebhookUrlNotAllowed = _client_error(
    "webhook.url_not_allowed", 422, "Webhook URL is not an allowed public http(s) address"
)
StatsRangeTooLarge = _client_error(
    "stats.range_too_large", 422, "Statistics range is empty or longer than allowed"
)
StatsTimeout = _client_error("stats.timeout", 503, "Statistics took too long; narrow the range")
# Accounts, limits and the admin API.
AccountExists = _client_error("account.exists", 409, "An account with this name exists")
AccountSuspended = _client_error("account.suspended", 403, "The account is suspended")
AccountRateLimited = _client_error(
    "account.rate_limited", 429, "The account's rate limit is reached; retry after a pause"
)
AccountQuotaExceeded = _client_error(
    "account.quota_exceeded", 429, "The account's daily quota of segments is used up"
)
AccountSpendCapReached = _client_error(
    "account.spend_cap_reached", 402, "The account's monthly spend cap is reached"
)
SenderNotAllowed = _client_error(
    "message.sender_not_allowed", 422, "Sender ID not allowed for this account or destination"
)
KeyNotFound = _client_error("key.not_found", 404, "No such API key")
KeyPrefixAmbiguous = _client_error(
    "key.ambiguous_prefix", 409, "Several active keys have this prefix"
)
SmppCredentialNotFound = _client_error("smpp.credential_not_found", 404, "No such SMPP credential")
SmppSystemIdTaken = _client_error(
    "smpp.system_id_taken", 409, "The system_id belongs to another account"
)
NumberNotFound = _client_error("number.not_found", 404, "No such number in this account")
NumberTaken = _client_error("number.taken", 409, "The number belongs to another account")
RouteNotFound = _client_error("route.not_found", 404, "No such route")
RouteInvalid = _client_error("route.invalid", 422, "Invalid route")
ConnectorNotFound = _client_error("connector.not_found", 404, "No such connector")
ConnectorExists = _client_error("connector.exists", 409, "A connector with this name exists")
ConnectorInvalid = _client_error("connector.invalid", 422, "Invalid connector definition")
ConnectorConfigManaged = _client_error(
    "connector.config_managed", 409, "The connector is defined in the configuration"
)
ConnectorInUse = _client_error("connector.in_use", 409, "Routes still send to the connector")
# Answered by the HTTP connection guard (gateway/api/connection_guard.py) before the request
# reaches a route: slow or oversized requests and connection floods.
RequestTimeout = _client_error(
    "request.timeout", 408, "The request head or body did not arrive in time"
)
RequestTooLarge = _client_error("request.too_large", 413, "Request body too large")
TooManyConnections = _client_error(
    "gateway.too_many_connections", 503, "Too many open connections from this address or in all"
)

CLIENT_ERRORS: tuple[type[ClientError], ...] = (
    Unauthorized,
    AdminUnauthorized,
    AuthThrottled,
    NotFound,
    InvalidNumber,
    EmptyText,
    TextTooLong,
    InvalidSender,
    UnencodableText,
    InvalidSchedule,
    ValidationFailed,
    MalformedRequest,
    QueueFull,
    ShuttingDown,
    InvalidTemplate,
    MissingVariable,
    BatchNotFound,
    TemplateNotFound,
    NotCancellable,
    IdempotencyKeyMismatch,
    IdempotencyInProgress,
    RecipientOptedOut,
    SuppressionNotFound,
    AccountNotFound,
    InvalidCursor,
    WebhookNotFound,
    WebhookUrlNotAllowed,
    StatsRangeTooLarge,
    StatsTimeout,
    AccountExists,
    AccountSuspended,
    AccountRateLimited,
    AccountQuotaExceeded,
    AccountSpendCapReached,
    SenderNotAllowed,
    KeyNotFound,
    KeyPrefixAmbiguous,
    SmppCredentialNotFound,
    SmppSystemIdTaken,
    NumberNotFound,
    NumberTaken,
    RouteNotFound,
    RouteInvalid,
    ConnectorNotFound,
    ConnectorExists,
    ConnectorInvalid,
    ConnectorConfigManaged,
    ConnectorInUse,
    RequestTimeout,
    RequestTooLarge,
    TooManyConnections,
)
