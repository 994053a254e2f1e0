"""What notify tells people about SLA timing: warnings and breaches to staff, and the check-in
email to a customer whose ticket has waited on them. No IO here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ticketstream.contracts.addressing import plus_address
from ticketstream.contracts.events import SlaBreached, SlaWaitingReminderDue, SlaWarning
from ticketstream.contracts.models import TicketSnapshot, TicketStatus
from ticketstream_notify.domain import MANAGERS, InAppNotification, OutgoingEmail, staff_recipients


@dataclass(frozen=True)
class Thread:
    """The email thread of a ticket as notify has seen it: its root and latest Message-IDs."""

    root: str | None
    latest: str | None

    def headers(self) -> tuple[str | None, tuple[str, ...]]:
        """In-Reply-To and References of a new message in the thread."""
        known = tuple(dict.fromkeys(message for message in (self.root, self.latest) if message))
        return (known[-1] if known else None), known


def _target(event: SlaWarning | SlaBreached) -> str:
    return event.target.value.replace("_", " ")


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "now"


def warning_notifications(ticket: TicketSnapshot, event: SlaWarning) -> list[InAppNotification]:
    return [
        InAppNotification(
            recipient=recipient,
            kind="sla.warning",
            title=f"{ticket.ref}: {_target(event)} due {_when(event.due_at)}",
            body=f"{ticket.title} ({ticket.priority.value.title()}); most of the time allowed has passed.",
            ref=ticket.ref,
            ticket_id=ticket.id,
        )
        for recipient in staff_recipients(ticket)
    ]


def breach_notifications(ticket: TicketSnapshot, event: SlaBreached) -> list[InAppNotification]:
    recipients = [*staff_recipients(ticket), MANAGERS]  # breaches also reach who answers for the desk
    return [
        InAppNotification(
            recipient=recipient,
            kind="sla.breached",
            title=f"{ticket.ref}: {_target(event)} target missed",
            body=f"{ticket.title} ({ticket.priority.value.title()}) was due {_when(event.due_at)}.",
            ref=ticket.ref,
            ticket_id=ticket.id,
        )
        for recipient in recipients
    ]


def checkin_email(
    ticket: TicketSnapshot, event: SlaWaitingReminderDue, thread: Thread, *, support_address: str
) -> OutgoingEmail | None:
    """Ask the customer whether they still need help, in the ticket's thread, and say when the
    ticket closes if they stay silent. A ticket no longer waiting gets nothing."""
    if ticket.requester is None or ticket.status is not TicketStatus.WAITING_ON_CUSTOMER:
        return None
    domain = support_address.partition("@")[2] or "ticketstream.local"
    name = ticket.requester.name or "there"
    text = (
        f"Hello {name},\n\n"
        f"We are still holding your request {ticket.ref} open for you:\n"
        f"  {ticket.title}\n\n"
        f"We last asked you for some information and have not heard back. Is this still a problem?\n"
        f"Just reply to this email and we will pick it up again. If we do not hear from you, the\n"
        f"request will be closed on {_when(event.close_at)}; replying later opens a new one.\n\n"
        f"— Support\n"
    )
    in_reply_to, references = thread.headers()
    return OutgoingEmail(
        to=ticket.requester.email,
        subject=f"[{ticket.ref}] Do you still need help? {ticket.title}",
        text=text,
        message_id=f"<checkin.{int(event.waiting_since.timestamp())}.{ticket.id}@{domain}>",
        in_reply_to=in_reply_to,
        references=references,
        reply_to=plus_address(support_address, ticket.ref),
        ticket_id=ticket.id,
        ref=ticket.ref,
        kind="waiting.checkin",
    )
