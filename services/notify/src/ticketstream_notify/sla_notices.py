"""What notify tells people about SLA timing: warnings and breaches to staff, and the check-in
email to a customer whose ticket has waited on them. No IO here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ticketstream.contracts.addressing import plus_address
from ticketstream.contracts.events import SlaBreached, SlaWaitingReminderDue, SlaWarning
from ticketstream.contracts.models import TicketSnapshot, TicketStatus
from ticketstream_notify.domain import (
    MANAGERS,
    EmailDraft,
    InAppNotification,
    customer_variables,
    mail_domain,
    staff_recipients,
)


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


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "now"


def warning_notifications(ticket: TicketSnapshot, event: SlaWarning) -> list[InAppNotification]:
    return [
        InAppNotification(
            recipient=recipient,
            kind="sla.warning",
            title=f"{ticket.ref}: {_target(event)} due {when(event.due_at)}",
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
            body=f"{ticket.title} ({ticket.priority.value.title()}) was due {when(event.due_at)}.",
            ref=ticket.ref,
            ticket_id=ticket.id,
        )
        for recipient in recipients
    ]


def checkin_email(
    ticket: TicketSnapshot,
    event: SlaWaitingReminderDue,
    thread: Thread,
    *,
    support_address: str,
    follow_url: str = "",
) -> EmailDraft | None:
    """Ask the customer whether they still need help, in the ticket's thread, and say when the
    ticket closes if they stay silent. A ticket no longer waiting gets nothing."""
    if ticket.requester is None or ticket.status is not TicketStatus.WAITING_ON_CUSTOMER:
        return None
    in_reply_to, references = thread.headers()
    return EmailDraft(
        to=ticket.requester.email,
        message_id=(
            f"<checkin.{int(event.waiting_since.timestamp())}.{ticket.id}@{mail_domain(support_address)}>"
        ),
        in_reply_to=in_reply_to,
        references=references,
        reply_to=plus_address(support_address, ticket.ref),
        ticket_id=ticket.id,
        ref=ticket.ref,
        kind="waiting.checkin",
        variables={**customer_variables(ticket, follow_url), "close_at": when(event.close_at)},
    )
