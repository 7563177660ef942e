"""The `Store` protocol: everything the services need from durable storage.

Two implementations, `sqlite.SqliteStore` (embedded default) and `postgres.PostgresStore`
(production), pass the same contract tests. Every method that writes is one transaction; the
batch methods exist so that the hot path costs one commit per group of messages, not per message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from gateway.domain import (
    Account,
    AppliedUpdates,
    InboundPart,
    InboundRecord,
    MessageRecord,
    NewMessage,
    OutboxItem,
    OutboxTake,
    PartKey,
    PartRecord,
    PartUpdate,
    SmppCredential,
    Status,
    StatusChange,
)
from gateway.domain.accounts import (
    AccountSettings,
    ApiKeyInfo,
    InboundNumber,
    StoredConnector,
    StoredRoute,
    Usage,
)
from gateway.domain.batches import (
    BatchSummary,
    IdempotencyRecord,
    StoredTemplate,
    SubmissionUnit,
)
from gateway.domain.listing import MessageFilter, Position
from gateway.domain.optout import OptOutSettings, Suppression
from gateway.domain.stats import Grouping, StatsRow
from gateway.domain.webhooks import Webhook, WebhookEvent, WebhookFailure, WebhookStream
from gateway.store.operations_sql import MessageDetail, QueueLane

# (parts in order, incomplete) -> the message as stored; runs inside the store's transaction.
Assemble = Callable[[Sequence[InboundPart], bool], InboundRecord]


@dataclass(frozen=True, slots=True)
class ParkedReceipt:
    connector: str
    upstream_id: str
    status: str
    raw_state: str
    error_code: str | None
    received_at: float


class Store(Protocol):
    dialect: str

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def migrate(self) -> list[int]:
        """Apply pending migrations; return the versions applied."""
        ...

    async def ping(self) -> None:
        """Raise if the database cannot be reached."""
        ...

    async def maintenance_warnings(self) -> list[str]:
        """What the database's settings will cost the gateway as its tables grow, for the log
        at start (an empty list: nothing)."""
        ...

    # Accounts and keys
    async def create_account(self, *, account_id: str, name: str, now: float) -> Account: ...
    async def get_account_by_name(self, name: str) -> Account | None: ...
    async def add_api_key(
        self, *, account_id: str, key_hash: str, prefix: str, now: float
    ) -> None: ...
    async def api_keys_with_prefix(self, prefix: str) -> list[tuple[str, Account]]:
        """`(stored hash, account)` of every unrevoked key with this display prefix: the
        candidates a presented key is verified against (hashes are salted, so not searchable)."""
        ...

    # Intake
    async def insert_messages(self, messages: Sequence[NewMessage], *, owner: str | None) -> None:
        """Commit messages and their parts in one transaction. Parts due now are owned by
        `owner` (the node that will dispatch them from memory); scheduled ones by nobody."""
        ...

    async def get_message(self, *, account_id: str, message_id: str) -> MessageRecord | None: ...

    # Dispatch
    async def claim_parts(
        self, *, node_id: str, limit: int, now: float, priority: int | None = None
    ) -> list[PartRecord]:
        """Take up to `limit` unowned queued parts that are due, highest priority first; only
        parts of `priority` when it is given (so a lower lane gets its share of a backlog)."""
        ...

    async def claim_expired(self, *, node_id: str, limit: int, now: float) -> list[PartKey]:
        """Take up to `limit` unowned queued parts of messages whose validity ended by `now`,
        for the caller to mark expired."""
        ...

    async def release_owned(self, *, node_id: str) -> int:
        """Hand back every queued part `node_id` holds (start-up after a crash, drain)."""
        ...

    async def heartbeat(self, *, node_id: str, now: float) -> None: ...
    async def release_stale(self, *, now: float, ttl: float) -> int:
        """Hand back queued parts held by nodes whose heartbeat is older than `ttl`."""
        ...

    # Status writer (gateway.status is the only caller)
    async def apply_updates(self, updates: Sequence[PartUpdate]) -> list[StatusChange]:
        """`apply_updates_and_take` with nothing taken: its message transitions."""
        ...

    async def apply_updates_and_take(
        self, updates: Sequence[PartUpdate], take: OutboxTake | None
    ) -> AppliedUpdates:
        """Apply part transitions the lifecycle allows, re-aggregate their messages, record
        each message transition as an event and owe ESMEs the receipts they asked for, all in
        one transaction. The receipts `take` asks for are inserted leased to its node and
        returned; the others wait in the outbox for a claim."""
        ...

    async def find_parts_by_upstream_ids(
        self, connector: str, upstream_ids: Sequence[str]
    ) -> dict[str, PartKey]: ...

    async def take_for_cancel(self, *, message_id: str, node_id: str) -> list[int] | None:
        """Make `node_id` the owner of every part of the message if all are still queued and
        none is held by another node, returning the parts it took from nobody; otherwise
        change nothing and return None."""
        ...

    async def untake(self, *, message_id: str, seqs: Sequence[int], node_id: str) -> None:
        """Hand parts taken by `take_for_cancel` back to nobody."""
        ...

    async def replace_pending(
        self,
        *,
        account_id: str,
        message_id: str,
        udh: bytes,
        payload: bytes,
        body: str,
        send_at: float | None,
        expires_at: float | None,
        now: float,
    ) -> bool:
        """Replace the text (and times) of a one-part message that no node has taken yet.
        False when it is not such a message (anymore)."""
        ...

    # Receipts that came before the carrier's id was stored
    async def park_receipts(self, rows: Sequence[ParkedReceipt]) -> None: ...
    async def match_parked(self, *, limit: int) -> list[tuple[ParkedReceipt, PartKey]]:
        """Parked receipts whose upstream id is now stored on a part."""
        ...

    async def unpark(self, keys: Sequence[tuple[str, str]]) -> None:
        """Forget parked receipts by (connector, upstream id)."""
        ...

    async def expire_parked(self, *, older_than: float, keep: int = 1_000_000) -> int:
        """Forget parked receipts older than `older_than`, then all but the newest `keep`."""
        ...

    # Inbound (MO)
    async def add_number(self, *, number: str, account_id: str, now: float) -> None: ...
    async def add_inbound_part(
        self, part: InboundPart, *, assemble: Assemble, mo_ttl: float
    ) -> InboundRecord | None:
        """Commit one MO part. When it completes its message (or is whole), the message is
        assembled by `assemble`, stored for the account that owns the destination number and
        owed to that account's ESME, and its parts deleted, in the same transaction."""
        ...

    async def expire_inbound_parts(
        self, *, older_than: float, assemble: Assemble, mo_ttl: float
    ) -> list[InboundRecord]:
        """Messages whose missing parts never came: assembled from what arrived, flagged
        incomplete, and delivered like complete ones."""
        ...

    async def list_inbound(
        self, *, account_id: str, limit: int, before: float | None = None
    ) -> list[InboundRecord]: ...

    # SMPP server
    async def add_smpp_credential(self, credential: SmppCredential, *, now: float) -> None: ...
    async def smpp_credential(self, system_id: str) -> SmppCredential | None: ...
    async def claim_outbox(
        self, *, node_id: str, system_ids: Sequence[str], limit: int, now: float, lease: float
    ) -> list[OutboxItem]:
        """Lease up to `limit` items owed to these system_ids, oldest first; an item whose
        lease ran out (its node died, or its deliver_sm went unanswered) is leased again."""
        ...

    async def complete_outbox(self, ids: Sequence[int]) -> None: ...
    async def release_outbox(self, ids: Sequence[int]) -> None: ...
    async def expire_outbox(self, *, now: float) -> int: ...
    async def release_outbox_owned(self, *, node_id: str) -> int:
        """Hand back every outbox lease `node_id` holds (it restarted)."""
        ...

    # Batches and idempotency keys (store/sqlite_batches.py, store/postgres_batches.py)
    async def insert_submissions(
        self, units: Sequence[SubmissionUnit], *, owner: str | None
    ) -> list[bool]:
        """Commit units as `insert_messages` commits messages, with their batch rows and
        idempotency records, in one transaction. A unit whose key a live record already holds
        (another request with that key committed first) is not written: False for it."""
        ...

    async def get_idempotency(
        self, *, account_id: str, key: str, now: float
    ) -> IdempotencyRecord | None:
        """The live (not expired by `now`) record of an account's key."""
        ...

    async def expire_idempotency(self, *, now: float) -> int:
        """Delete records expired by `now`; return how many."""
        ...

    async def get_batch(self, *, account_id: str, batch_id: str) -> BatchSummary | None:
        """The account's batch with its messages' counts per status and totals."""
        ...

    async def put_template(
        self, *, account_id: str, name: str, text: str, now: float
    ) -> StoredTemplate:
        """Create or replace the account's template `name` (keeping its created_at)."""
        ...

    async def get_template(self, *, account_id: str, name: str) -> StoredTemplate | None: ...
    async def list_templates(
        self, *, account_id: str, after: str, limit: int
    ) -> list[StoredTemplate]:
        """The account's templates by name, those after `after` ('' from the first)."""
        ...

    async def delete_template(self, *, account_id: str, name: str) -> bool: ...
    # Opt-out (store/sqlite_optout.py, store/postgres_optout.py). Every change moves the
    # account's version on in the same transaction; an MO that is a STOP or START keyword
    # changes the list in the transaction that stores the MO.
    async def add_suppressions(
        self,
        *,
        account_id: str,
        numbers: Sequence[str],
        reason: str | None,
        source: str,
        now: float,
    ) -> None: ...
    async def remove_suppression(self, *, account_id: str, number: str, now: float) -> bool: ...
    async def get_suppression(self, *, account_id: str, number: str) -> Suppression | None: ...
    async def list_suppressions(
        self, *, account_id: str, after: str, limit: int
    ) -> list[Suppression]:
        """Up to `limit` entries with numbers greater than `after`, in number order."""
        ...

    async def suppressed_among(self, *, account_id: str, numbers: Sequence[str]) -> set[str]: ...
    async def optout_version(self, account_id: str) -> int:
        """0 for an account that never changed its list or settings."""
        ...

    async def load_optout(
        self, *, account_id: str, max_numbers: int
    ) -> tuple[int, OptOutSettings | None, list[str] | None]:
        """(version, settings or None for the defaults, the suppressed numbers or None when
        there are more than `max_numbers`), read consistently."""
        ...

    async def optout_settings(self, account_id: str) -> OptOutSettings | None: ...
    async def put_optout_settings(
        self, *, account_id: str, settings: OptOutSettings, now: float
    ) -> None: ...
    async def account_exists(self, account_id: str) -> bool: ...
    # Operator commands (`python -m gateway queues | message | retry | expire`)
    async def queue_lanes(self, *, now: float) -> list[QueueLane]:
        """Queued parts per connector and priority lane: how many, due, held by nodes."""
        ...

    async def message_detail(self, message_id: str) -> MessageDetail | None:
        """A message and its parts, whatever its account."""
        ...

    async def stuck_parts(
        self,
        *,
        status: Status,
        before: float,
        now: float,
        connector: str | None,
        after: PartKey | None,
        limit: int,
    ) -> list[PartKey]:
        """One page, in key order after `after`: `submitted` parts sent before `before` whose
        receipt never came, or `failed` parts that failed since `before` and are still valid."""
        ...

    async def claim_stale_queued(
        self, *, node_id: str, before: float, connector: str | None, limit: int
    ) -> list[PartKey]:
        """Take up to `limit` queued parts no node holds that have waited since before
        `before`, for the caller to mark expired."""
        ...

    async def requeue_parts(self, keys: Sequence[PartKey], *, now: float) -> int:
        """Put `submitted` or `failed` parts back in the queue, due now, with a fresh attempt
        budget, and re-aggregate their messages, in one transaction; returns parts moved."""

    # Listing (keyset pagination, newest first; see store/listing_sql.py)
    async def list_messages(
        self, *, account_id: str, where: MessageFilter, after: Position | None, limit: int
    ) -> list[MessageRecord]:
        """Messages of the account matching `where`, newest first, strictly after `after`;
        records without their parts."""
        ...

    async def list_inbound_page(
        self, *, account_id: str, after: Position | None, limit: int
    ) -> list[InboundRecord]: ...

    # Webhooks (events are queued by apply_updates and the inbound path themselves)
    async def put_webhook(
        self,
        *,
        account_id: str,
        url: str,
        events: Sequence[str],
        secret: str,
        rotate: bool,
        now: float,
    ) -> Webhook:
        """Create or change the account's webhook. `secret` is used when it is created or
        when `rotate`; otherwise the stored one stays."""
        ...

    async def get_webhook(self, account_id: str) -> Webhook | None: ...
    async def delete_webhook(self, *, account_id: str, now: float) -> bool:
        """Remove it; its pending events are marked failed (and can be replayed later)."""
        ...

    async def claim_webhook_streams(
        self, *, node_id: str, limit: int, now: float, lease: float
    ) -> list[WebhookStream]:
        """Lease up to `limit` accounts with pending events that are not backing off."""
        ...

    async def pending_webhook_events(
        self, *, account_id: str, limit: int
    ) -> list[WebhookEvent]: ...
    async def finish_webhook_stream(
        self,
        *,
        stream: WebhookStream,
        node_id: str,
        delivered: Sequence[int],
        failure: WebhookFailure | None,
        now: float,
        max_age: float,
    ) -> None:
        """Record what was acknowledged and the failed attempt, if any, and release the lease
        with the stream's next retry time; one transaction."""
        ...

    async def release_webhook_streams(self, *, node_id: str) -> int: ...
    async def replay_webhook_events(
        self, *, account_id: str, from_sequence: int, since: float
    ) -> int:
        """Make delivered or failed events with sequence >= `from_sequence` and created at or
        after `since` pending again; returns how many."""
        ...

    async def count_pending_webhook_events(self) -> int: ...
    async def purge_webhook_events(self, *, older_than: float, limit: int) -> int: ...

    # Statistics (store/stats_sql.py)
    async def message_stats(
        self,
        *,
        account_id: str,
        start: float,
        end: float,
        grouping: Grouping | None,
        timeout: float,
    ) -> list[StatsRow]:
        """Counts and latency percentiles of the account's messages created in [start, end),
        per group (one row "all" when `grouping` is None); `StatsTimeout` past `timeout`."""

    # Admin: account settings, keys, credentials, numbers, stored routes (gateway.accounts).
    # Every write bumps the config version in the same transaction.
    async def get_account_settings(self, account: str) -> AccountSettings | None:
        """By id or by name."""
        ...

    async def list_account_settings(self) -> list[AccountSettings]: ...
    async def insert_account(self, settings: AccountSettings) -> None:
        """Raise `AccountExists` when the name is taken."""
        ...

    async def update_account(self, settings: AccountSettings) -> bool: ...
    async def list_api_keys(self, account_id: str) -> list[ApiKeyInfo]: ...
    async def revoke_api_keys(self, *, account_id: str, prefix: str, now: float) -> int:
        """Revoke the account's active keys with this prefix; return how many."""
        ...

    async def list_smpp_credentials(self, account_id: str) -> list[SmppCredential]: ...
    async def delete_smpp_credential(self, *, account_id: str, system_id: str) -> bool: ...
    async def list_numbers(self, account_id: str) -> list[InboundNumber]: ...
    async def number_owner(self, number: str) -> str | None: ...
    async def delete_number(self, *, account_id: str, number: str) -> bool: ...
    async def list_stored_routes(self) -> list[StoredRoute]:
        """Ordered by position, then name."""
        ...

    async def put_route(self, route: StoredRoute) -> None: ...
    async def delete_route(self, name: str) -> bool: ...
    async def config_version(self) -> int:
        """A number every admin write increases; nodes reload settings when it changes."""
        ...

    async def bump_config_version(self) -> None: ...

    # Connectors managed through the admin API (gateway.connector_set). Writes bump the config
    # version in the same transaction.
    async def list_stored_connectors(self) -> list[StoredConnector]:
        """Ordered by name."""
        ...

    async def get_stored_connector(self, name: str) -> StoredConnector | None: ...
    async def insert_connector(self, connector: StoredConnector) -> None:
        """Raise `ConnectorExists` when the name is taken."""
        ...

    async def put_connector(self, connector: StoredConnector) -> None:
        """Create or replace."""
        ...

    async def delete_connector(self, name: str) -> bool: ...
    async def account_usage(self, *, day: str, limited_only: bool = False) -> dict[str, Usage]:
        """Per account: segments on `day` (UTC, YYYY-MM-DD) and spend since its month began;
        `limited_only`: just the accounts with a daily quota or spend cap. The counters are
        updated by `insert_messages`, in its transaction."""
        ...
