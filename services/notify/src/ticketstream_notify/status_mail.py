"""The customer's email when their ticket's status changes. No IO here."""

from __future__ import annotations

from ticketstream.contracts.addressing import plus_address
from ticketstream.contracts.events import TicketStatusChanged
from ticketstream.contracts.models import TicketStatus
from ticketstream_notify.domain import EmailDraft, customer_variables, mail_domain
from ticketstream_notify.sla_notices import Thread

DONE = frozenset({TicketStatus.RESOLVED, TicketStatus.CLOSED})
ACTIVE = frozenset({TicketStatus.OPEN, TicketStatus.IN_PROGRESS})
# PENDING (waiting on a third party) and OPEN are the desk's own business: no email.
EMAILED_STATUSES = {
    TicketStatus.IN_PROGRESS: "status.in_progress",
    TicketStatus.WAITING_ON_CUSTOMER: "status.waiting_on_customer",
    TicketStatus.RESOLVED: "status.resolved",
    TicketStatus.CLOSED: "status.closed",
}


def status_kind(from_status: TicketStatus, to_status: TicketStatus) -> str | None:
    """The matrix row of a status change, None when the customer is not told."""
    if from_status in DONE and to_status in ACTIVE:
        return "status.reopened"
    if to_status is TicketStatus.CLOSED and from_status is TicketStatus.RESOLVED:
        # Closing a resolved ticket is bookkeeping: the resolution email already told them.
        return None
    return EMAILED_STATUSES.get(to_status)


def status_email(
    event: TicketStatusChanged,
    thread: Thread,
    *,
    support_address: str,
    follow_url: str,
    csat_url: str | None = None,
    csat_expires: str | None = None,
) -> EmailDraft | None:
    """The email of one status change, in the ticket's thread. Its Message-ID derives from the
    ticket and the version the change produced, so a redelivered event makes the same email.
    Nothing for merged tickets (the ticket it went into speaks to the customer), tickets without
    a requester, changes the customer made themselves, or changes they need not hear of."""
    ticket = event.ticket
    if ticket.requester is None or ticket.merged_into:
        return None
    if event.actor and event.actor.lower() == ticket.requester.email.lower():
        return None  # the customer's own message moved it (e.g. reopened it): they know
    kind = status_kind(event.from_status, event.to_status)
    if kind is None:
        return None
    variables = {**customer_variables(ticket, follow_url), "previous_status": event.from_status.value}
    if kind == "status.resolved":
        if csat_url is None:
            return None
        variables |= {"csat_url": csat_url, "csat_expires": csat_expires or ""}
    in_reply_to, references = thread.headers()
    label = kind.removeprefix("status.").replace("_", "-")
    return EmailDraft(
        to=ticket.requester.email,
        message_id=f"<{label}.{event.sequence}.{ticket.id}@{mail_domain(support_address)}>",
        in_reply_to=in_reply_to,
        references=references,
        reply_to=plus_address(support_address, ticket.ref),
        ticket_id=ticket.id,
        ref=ticket.ref,
        kind=kind,
        variables=variables,
    )
