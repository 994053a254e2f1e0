"""What staff hear about assignments, escalations and unhappy customers, and their emails.
No IO here: recipients come from `directory`, wording of emails from `templates`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ticketstream.contracts.events import TicketAssigned, TicketCsatRecorded, TicketEscalated
from ticketstream.contracts.models import TicketSnapshot
from ticketstream_notify.directory import StaffDirectory
from ticketstream_notify.domain import MANAGERS, EmailDraft, InAppNotification, mail_domain, ticket_variables


def in_app(
    ticket: TicketSnapshot, kind: str, user_ids: Iterable[str], *, title: str, body: str
) -> list[InAppNotification]:
    return [
        InAppNotification(
            recipient=f"user:{user_id}",
            kind=kind,
            title=title,
            body=body,
            ref=ticket.ref,
            ticket_id=ticket.id,
        )
        for user_id in dict.fromkeys(user_ids)
    ]


def assignment_notifications(event: TicketAssigned, assignees: list[str]) -> list[InAppNotification]:
    ticket = event.ticket
    who = event.actor or "routing"
    return in_app(
        ticket,
        "ticket.assigned",
        assignees,
        title=f"{ticket.ref} assigned to you by {who}",
        body=f"{ticket.title} ({ticket.priority.value.title()})",
    )


def escalation_notifications(event: TicketEscalated, recipients: list[str]) -> list[InAppNotification]:
    ticket = event.ticket
    title = f"{ticket.ref} escalated to level {event.to_level}"
    body = f"{ticket.title}: {event.reason}"
    if not recipients:  # nobody named in the directory: the desk's managers still hear of it
        return [InAppNotification(MANAGERS, "ticket.escalated", title, body, ticket.ref, ticket.id)]
    return in_app(ticket, "ticket.escalated", recipients, title=title, body=body)


def detractor_notifications(event: TicketCsatRecorded, recipients: list[str]) -> list[InAppNotification]:
    ticket = event.ticket
    title = f"{ticket.ref}: the customer rated it {event.csat.score} of 5"
    body = event.csat.comment or ticket.title
    if not recipients:
        return [InAppNotification(MANAGERS, "csat.detractor", title, body, ticket.ref, ticket.id)]
    return in_app(ticket, "csat.detractor", recipients, title=title, body=body)


def staff_emails(
    kind: str,
    ticket: TicketSnapshot,
    user_ids: Iterable[str],
    directory: StaffDirectory,
    *,
    event_id: str,
    support_address: str,
    variables: Mapping[str, str] | None = None,
) -> list[EmailDraft]:
    """One email per staff member with a known address. Staff mail is not part of the customer's
    thread: its Message-ID is notify's own and is never taught to tickets' threading."""
    drafts = []
    for user_id in dict.fromkeys(user_ids):
        member = directory.members.get(user_id)
        if member is None or not member.email:
            continue
        drafts.append(
            EmailDraft(
                to=member.email,
                message_id=f"<staff.{kind}.{event_id}.{user_id}@{mail_domain(support_address)}>",
                in_reply_to=None,
                references=(),
                reply_to=support_address,
                ticket_id=ticket.id,
                ref=ticket.ref,
                kind=kind,
                variables={
                    **ticket_variables(ticket),
                    "recipient_name": member.name or member.id,
                    "team": ticket.assigned_team or "none",
                    **(variables or {}),
                },
                audience="staff",
                recipient_id=user_id,
            )
        )
    return drafts
