"""`/v1/suppressions` and `/v1/opt-out/settings`: an account's opt-out list and settings, for
its own key; the same under `/v1/admin/accounts/{account}/...` (name or id) for the admin key."""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from gateway.api.deps import AccountDep, AdminDep, ApiServices, ServicesDep
from gateway.api.errors import problem_responses
from gateway.domain import MessageType
from gateway.domain.errors import AccountNotFound, SuppressionNotFound, ValidationFailed
from gateway.domain.optout import DEFAULT_SETTINGS, OptOutSettings, QuietHours, Suppression
from gateway.phone import normalize_e164
from schemas.suppressions import (
    OptOutSettingsModel,
    QuietHoursModel,
    SuppressionCheck,
    SuppressionCreate,
    SuppressionPublic,
    SuppressionsAdded,
    SuppressionsPage,
)

router = APIRouter(prefix="/v1", tags=["suppressions"])
admin_router = APIRouter(
    prefix="/v1/admin/accounts/{account}", tags=["admin"], dependencies=[AdminDep]
)

Limit = Annotated[int, Query(ge=1, le=1000, description="entries per page")]
Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page")]


async def own_account(account: AccountDep) -> str:
    return account.id


async def named_account(account: str, svc: ServicesDep) -> str:
    """The id of the admin routes' `{account}`: a name or an id, as in the rest of /v1/admin."""
    found = await svc.store.get_account_settings(account)
    if found is None:
        raise AccountNotFound(f"no account {account!r}")
    return found.id


def _install(api: APIRouter, target: Callable[..., Awaitable[str]], source: str) -> None:
    """The same routes for an account's own key and, on the admin router, for any account."""
    # A default, not an Annotated alias: annotations are strings resolved in module globals.
    target_account = Depends(target)
    errors = (401, 404) if source == "admin" else (401,)

    @api.get(
        "/suppressions",
        response_model=SuppressionsPage,
        responses=problem_responses(*errors, 422),
        summary="List suppressed numbers",
    )
    async def list_suppressions(
        svc: ServicesDep,
        limit: Limit = 100,
        cursor: Cursor = None,
        account_id: str = target_account,
    ) -> SuppressionsPage:
        return await _list(svc, account_id, limit, cursor)

    @api.post(
        "/suppressions",
        status_code=201,
        response_model=SuppressionsAdded,
        responses=problem_responses(*errors, 422),
        summary="Suppress numbers",
    )
    async def add_suppressions(
        body: SuppressionCreate, svc: ServicesDep, account_id: str = target_account
    ) -> SuppressionsAdded:
        """Committed when answered; enforced at once on this node and within seconds on the
        others. Adding a number already suppressed keeps it, with the new reason if given."""
        return await _add(svc, account_id, body, source=source)

    @api.get(
        "/suppressions/{number}",
        response_model=SuppressionCheck,
        responses=problem_responses(*errors, 422),
        summary="Check whether a number is suppressed",
    )
    async def check_suppression(
        number: str, svc: ServicesDep, account_id: str = target_account
    ) -> SuppressionCheck:
        return await _check(svc, account_id, number)

    @api.delete(
        "/suppressions/{number}",
        status_code=204,
        responses=problem_responses(401, 404, 422),
        summary="Remove a number from the suppression list",
    )
    async def remove_suppression(
        number: str, svc: ServicesDep, account_id: str = target_account
    ) -> Response:
        await _remove(svc, account_id, number)
        return Response(status_code=204)

    @api.get(
        "/opt-out/settings",
        response_model=OptOutSettingsModel,
        responses=problem_responses(*errors),
        summary="Read the opt-out settings: enforced types, quiet hours, keyword replies",
    )
    async def get_settings(
        svc: ServicesDep, account_id: str = target_account
    ) -> OptOutSettingsModel:
        return _settings_model(await svc.store.optout_settings(account_id) or DEFAULT_SETTINGS)

    @api.put(
        "/opt-out/settings",
        response_model=OptOutSettingsModel,
        responses=problem_responses(*errors, 422),
        summary="Replace the opt-out settings",
    )
    async def put_settings(
        body: OptOutSettingsModel, svc: ServicesDep, account_id: str = target_account
    ) -> OptOutSettingsModel:
        return await _put_settings(svc, account_id, body)


_install(router, own_account, "api")
_install(admin_router, named_account, "admin")


async def _list(
    svc: ApiServices, account_id: str, limit: int, cursor: str | None
) -> SuppressionsPage:
    after = _decode_cursor(cursor) if cursor else ""
    # One more than asked: whether there is a next page, without a count.
    rows = await svc.store.list_suppressions(account_id=account_id, after=after, limit=limit + 1)
    page = rows[:limit]
    more = len(rows) > limit
    return SuppressionsPage(
        data=[_public(s) for s in page],
        next_cursor=_encode_cursor(page[-1].number) if more and page else None,
    )


async def _add(
    svc: ApiServices, account_id: str, body: SuppressionCreate, *, source: str
) -> SuppressionsAdded:
    numbers = list(dict.fromkeys(normalize_e164(n) for n in body.numbers))
    await svc.store.add_suppressions(
        account_id=account_id, numbers=numbers, reason=body.reason, source=source, now=time.time()
    )
    _invalidate(svc, account_id)
    return SuppressionsAdded(added=numbers)


async def _check(svc: ApiServices, account_id: str, number: str) -> SuppressionCheck:
    e164 = normalize_e164(number)
    found = await svc.store.get_suppression(account_id=account_id, number=e164)
    return SuppressionCheck(
        number=e164, suppressed=found is not None, suppression=found and _public(found)
    )


async def _remove(svc: ApiServices, account_id: str, number: str) -> None:
    e164 = normalize_e164(number)
    if not await svc.store.remove_suppression(account_id=account_id, number=e164, now=time.time()):
        raise SuppressionNotFound(f"{number} is not on the suppression list")
    _invalidate(svc, account_id)


async def _put_settings(
    svc: ApiServices, account_id: str, body: OptOutSettingsModel
) -> OptOutSettingsModel:
    settings = _settings(body)
    await svc.store.put_optout_settings(account_id=account_id, settings=settings, now=time.time())
    _invalidate(svc, account_id)
    return _settings_model(settings)


def _invalidate(svc: ApiServices, account_id: str) -> None:
    if svc.optout is not None:
        svc.optout.invalidate(account_id)


def _public(s: Suppression) -> SuppressionPublic:
    return SuppressionPublic(
        number=s.number,
        reason=s.reason,
        source=s.source,
        created_at=s.created_at,
    )


def _encode_cursor(number: str) -> str:
    return base64.urlsafe_b64encode(number.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> str:
    padded = cursor + "=" * (-len(cursor) % 4)
    try:
        number = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        number = ""
    if not number.startswith("+"):
        raise ValidationFailed("cursor is not one this API returned")
    return number


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _settings(body: OptOutSettingsModel) -> OptOutSettings:
    quiet = body.quiet_hours
    return OptOutSettings(
        enforce=frozenset(MessageType(t) for t in body.enforce),
        quiet_hours=QuietHours(
            enabled=quiet.enabled,
            start=_minutes(quiet.start),
            end=_minutes(quiet.end),
            types=frozenset(MessageType(t) for t in quiet.types),
        ),
        keyword_replies=body.keyword_replies,
        stop_reply=body.stop_reply,
        start_reply=body.start_reply,
        help_reply=body.help_reply,
    )


def _settings_model(settings: OptOutSettings) -> OptOutSettingsModel:
    quiet = settings.quiet_hours
    return OptOutSettingsModel(
        enforce=sorted(t.value for t in settings.enforce),
        quiet_hours=QuietHoursModel(
            enabled=quiet.enabled,
            start=_clock(quiet.start),
            end=_clock(quiet.end),
            types=sorted(t.value for t in quiet.types),
        ),
        keyword_replies=settings.keyword_replies,
        stop_reply=settings.stop_reply,
        start_reply=settings.start_reply,
        help_reply=settings.help_reply,
    )
