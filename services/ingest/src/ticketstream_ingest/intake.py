"""The one way raw email enters ingest, whatever the channel (SMTP, webhook, IMAP).

Parse, decide, store: every message ends as accepted, duplicate or quarantined with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from ticketstream.contracts.events import InboundChannel
from ticketstream_ingest.domain import InvalidEmailError, parse_email
from ticketstream_ingest.settings import Settings
from ticketstream_ingest.store import AcceptStatus, InboundStore


class IntakeStatus(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    QUARANTINED = "quarantined"


@dataclass(frozen=True)
class IntakeResult:
    status: IntakeStatus
    inbound_id: str
    message_id: str | None
    reason: str | None = None


class EmailIntake:
    def __init__(self, store: InboundStore, settings: Settings) -> None:
        self._store = store
        self._settings = settings

    @property
    def id_domain(self) -> str:
        return self._settings.support_address.partition("@")[2] or "ticketstream.local"

    async def receive(self, raw: bytes, *, channel: InboundChannel, now: datetime) -> IntakeResult:
        """Store one raw message and its event, or report why it was not accepted.

        Raises InvalidEmailError for input that is not an email at all (the edge answers 4xx/5xx).
        """
        parsed = parse_email(raw, id_domain=self.id_domain)
        result = await self._store.accept_email(parsed=parsed, raw=raw, channel=channel, now=now)
        if result.status is AcceptStatus.DUPLICATE:
            return IntakeResult(
                IntakeStatus.DUPLICATE,
                result.inbound_id,
                result.message_id,
                reason="this message was received before",
            )
        return IntakeResult(IntakeStatus.ACCEPTED, result.inbound_id, result.message_id)


__all__ = ["EmailIntake", "IntakeResult", "IntakeStatus", "InvalidEmailError"]
