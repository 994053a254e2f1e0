"""Bounce suppression rules: which addresses stop receiving mail, and what a refused send says.

Pure, no IO. An address is suppressed after a permanent bounce of mail notify sent, after the
relay refuses it with a permanent (5xx) reply, or by an admin; it stays suppressed until an admin
clears it. A temporary failure (a soft bounce, a 4xx) never suppresses: delivery is retried.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from ticketstream.contracts.events import InboundBounceReceived

REASON_CHARACTERS = 300


class SuppressionSource(StrEnum):
    BOUNCE = "bounce"  # a bounce report came back for mail notify sent
    RELAY = "relay"  # the relay refused the recipient with a 5xx reply
    ADMIN = "admin"  # added by hand


@dataclass(frozen=True)
class Suppression:
    address: str
    source: SuppressionSource
    reason: str
    suppressed_at: datetime
    message_id: str | None = None


def normalised(address: str) -> str:
    """Addresses compare case-insensitively here (local parts are case-insensitive in practice)."""
    return address.strip().lower()


def from_bounce(event: InboundBounceReceived, *, sent_to: Iterable[str]) -> Suppression | None:
    """A permanent bounce suppresses its address; a temporary one does not.

    `sent_to` are the addresses notify sent the bounce's original message to. Anybody can mail a
    bounce report claiming any address failed, so one that does not name a mail notify sent to
    that very address suppresses nothing.
    """
    if not event.permanent or not event.bounced_address.strip():
        return None
    if normalised(event.bounced_address) not in {normalised(address) for address in sent_to}:
        return None
    return Suppression(
        address=normalised(event.bounced_address),
        source=SuppressionSource.BOUNCE,
        reason=(event.diagnostic or "permanent bounce")[:REASON_CHARACTERS],
        suppressed_at=event.received_at,
        message_id=event.original_message_id,
    )


def is_permanent_rejection(code: int) -> bool:
    """SMTP 5xx: the relay will refuse the same recipient again, so retrying is pointless."""
    return 500 <= code < 600


def from_rejection(address: str, *, code: int, message: str, now: datetime) -> Suppression:
    return Suppression(
        address=normalised(address),
        source=SuppressionSource.RELAY,
        reason=f"{code} {message}".strip()[:REASON_CHARACTERS],
        suppressed_at=now,
    )


def suppressed_error(suppression: Suppression) -> str:
    """The notify.failed error tickets shows for a mail that was not sent."""
    cause = {
        SuppressionSource.BOUNCE: "after bounce",
        SuppressionSource.RELAY: "after the relay refused it",
        SuppressionSource.ADMIN: "by an admin",
    }[suppression.source]
    return f"address suppressed {cause}: {suppression.reason}"
