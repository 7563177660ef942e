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
    InboundPart,
    InboundRecord,
    MessageRecord,
    NewMessage,
    OutboxItem,
    PartKey,
    PartRecord,
    PartUpdate,
    SmppCredential,
    StatusChange,
)
from gateway.domain.accounts import (
    AccountSettings,
    ApiKeyInfo,
    InboundNumber,
    StoredRoute,
    Usage,
)

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

    # Accounts and keys
    async def create_account(self, *, account_id: str, name: str, now: float) -> Account: ...
    async def get_account_by_name(self, name: str) -> Account | None: ...
    async def add_api_key(
        self, *, account_id: str, key_hash: str, prefix: str, now: float
    ) -> None: ...
    async def account_for_key(self, key_hash: str) -> Account | None: ...

    # Intake
    async def insert_messages(self, messages: Sequence[NewMessage], *, owner: str | None) -> None:
        """Commit messages and their parts in one transaction. Parts due now are owned by
        `owner` (the node that will dispatch them from memory); scheduled ones by nobody."""
        ...

    async def get_message(self, *, account_id: str, message_id: str) -> MessageRecord | None: ...

    # Dispatch
    async def claim_parts(self, *, node_id: str, limit: int, now: float) -> list[PartRecord]:
        """Take up to `limit` unowned queued parts that are due, highest priority first."""
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
        """Apply part transitions the lifecycle allows, re-aggregate their messages and record
        each message transition as an event, all in one transaction."""
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

    async def expire_parked(self, *, older_than: float) -> int: ...

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
    async def account_usage(self, *, day: str, limited_only: bool = False) -> dict[str, Usage]:
        """Per account: segments on `day` (UTC, YYYY-MM-DD) and spend since its month began;
        `limited_only`: just the accounts with a daily quota or spend cap. The counters are
        updated by `insert_messages`, in its transaction."""
        ...
