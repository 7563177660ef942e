"""Automatic replies to STOP, START and HELP keywords in inbound (MO) messages.

The suppression list itself changes in the store, in the transaction that stores the MO
(`store/optout_sql.keyword_statements`). Here the reply goes out: a normal transactional MT
through intake, from the number that received the keyword to the handset that sent it, so it
is committed, routed, receipted and billed at the account's price like any message. It is
exempt from the opt-out list, quiet hours and the account's refusals (suspension, quota, spend
cap, rate): the confirmation of a STOP must reach the one who just stopped.

The reply is committed before the connector acknowledges the MO to the carrier: if the node
dies in between, the carrier delivers the MO again and the reply is sent then (at least once).
"""

from __future__ import annotations

import logging

from gateway.domain import GatewayError, InboundRecord, MessageType
from gateway.domain.keywords import KeywordAction, default_reply, match_keyword
from gateway.domain.optout import OptOutSettings
from gateway.intake import Intake, Submission
from gateway.phone import mask
from gateway.store.optout_sql import subscriber_number
from gateway.suppression import OptOutPolicies

log = logging.getLogger(__name__)


class KeywordResponder:
    def __init__(self, *, intake: Intake, policies: OptOutPolicies) -> None:
        self._intake = intake
        self._policies = policies

    async def respond(self, record: InboundRecord) -> None:
        """Answer `record` if it is a keyword of an account's number; never raises for a
        reply that cannot be sent (the MO itself is stored either way)."""
        if record.account_id is None or record.incomplete:
            return
        match = match_keyword(record.text)
        if match is None:
            return
        if match.action is not KeywordAction.HELP:
            self._policies.invalidate(record.account_id)  # the store's list just changed
        view = await self._policies.account(record.account_id)
        if not view.settings.keyword_replies:
            return
        submission = Submission(
            account_id=record.account_id,
            to=subscriber_number(record.source),
            sender=record.destination,
            text=_reply_text(view.settings, match.action) or default_reply(match),
            message_type=MessageType.TRANSACTIONAL,
        )
        try:
            await self._intake.submit(submission, policy_exempt=True)
        except GatewayError as exc:
            log.warning(
                "keyword reply not sent",
                extra={"to": mask(record.source), "keyword": match.action.value, "code": exc.code},
            )


def _reply_text(settings: OptOutSettings, action: KeywordAction) -> str | None:
    if action is KeywordAction.STOP:
        return settings.stop_reply
    if action is KeywordAction.START:
        return settings.start_reply
    return settings.help_reply
