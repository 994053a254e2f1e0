"""Pure rules for what happened to an outbound email after it left the ticket: notify reports
it sent or gave up, the recipient's server may bounce it later. No IO here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ticketstream.contracts.events import (
    Event,
    InboundBounceReceived,
    InteractionSummary,
    NotifyDelivered,
    NotifyFailed,
)
from ticketstream.contracts.models import DeliveryStatus, TicketSnapshot
from ticketstream_tickets.lifecycle import Step, interaction_step, system_note

# Reports may arrive in any order (a bounce can overtake the relay's acceptance on another topic);
# a later stage never goes back to an earlier one.
PROGRESSION = (DeliveryStatus.SENDING, DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.BOUNCED)
UNDELIVERABLE = frozenset({DeliveryStatus.FAILED, DeliveryStatus.BOUNCED})
DELIVERY_ACTOR = "delivery"


@dataclass(frozen=True)
class DeliveryReport:
    message_id: str
    status: DeliveryStatus
    recipient: str
    detail: str | None = None


def supersedes(report: DeliveryReport, current: DeliveryStatus | None) -> bool:
    return current is None or PROGRESSION.index(report.status) > PROGRESSION.index(current)


def undeliverable_steps(
    ticket: TicketSnapshot, email: InteractionSummary, report: DeliveryReport, *, note_id: str, now: datetime
) -> list[Step]:
    """A staff-only system note on the ticket when an email did not reach its recipient, so the
    agent knows the customer has not seen the reply and can try another way."""
    if report.status not in UNDELIVERABLE:
        return []
    what = "bounced" if report.status is DeliveryStatus.BOUNCED else "could not be sent"
    reason = f": {report.detail}" if report.detail else ""
    subject = f' "{email.subject}"' if email.subject else ""
    note = system_note(
        text=f"The email{subject} to {report.recipient} {what}{reason}.", interaction_id=note_id, now=now
    )
    return [interaction_step(ticket, note, actor=DELIVERY_ACTOR, now=now)]


def delivery_report(event: Event) -> DeliveryReport | None:
    """What an event says about an email the system sent, if anything final.

    A temporary bounce (a delay notice) or a failure notify will retry says nothing final: the
    relay keeps trying, so the email is neither delivered nor lost yet.
    """
    if isinstance(event, InboundBounceReceived) and event.original_message_id and event.permanent:
        return DeliveryReport(
            message_id=event.original_message_id,
            status=DeliveryStatus.BOUNCED,
            recipient=event.bounced_address,
            detail=event.diagnostic or "no reason given",
        )
    if (
        not isinstance(event, NotifyDelivered | NotifyFailed)
        or event.channel != "email"
        or not event.message_id
    ):
        return None
    if isinstance(event, NotifyFailed):
        if not event.permanent:
            return None
        return DeliveryReport(event.message_id, DeliveryStatus.FAILED, event.recipient, event.error)
    return DeliveryReport(event.message_id, DeliveryStatus.SENT, event.recipient)
