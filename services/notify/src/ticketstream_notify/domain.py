"""Pure notification rules: who hears about a new ticket, and the customer's acknowledgement.

No IO here. Emails are planned as drafts (recipient, thread headers and template variables); the
wording comes from `templates`, where admins can change it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ticketstream.contracts.addressing import plus_address
from ticketstream.contracts.events import InteractionSummary
from ticketstream.contracts.models import InteractionType, TicketSnapshot

UNASSIGNED_QUEUE = "queue:unassigned"
MAX_MAIL_ATTEMPTS = 6
FIRST_RETRY_DELAY = timedelta(seconds=5)


@dataclass(frozen=True)
class InAppNotification:
    recipient: str = ""
    kind: str = ""
    title: str = ""
    body: str = ""
    ref: str | None = None
    ticket_id: str | None = None


@dataclass(frozen=True)
class OutgoingEmail:
    to: str
    subject: str
    text: str
    message_id: str
    in_reply_to: str | None
    references: tuple[str, ...]
    reply_to: str
    ticket_id: str
    ref: str
    kind: str
    html: str = ""
    audience: str = "customer"  # customer | staff: only customer mail threads back onto tickets


def mail_id(event_id: str, mail: OutgoingEmail) -> str:
    """Stable per (event, kind, mailbox), so a redelivered event never mails twice; the address
    is compared without case, as mailboxes are."""
    return f"{event_id}:{mail.kind}:{mail.to.lower()}"


def mails_by_id(event_id: str, mails: Iterable[OutgoingEmail]) -> dict[str, OutgoingEmail]:
    """The event's mails keyed by their id, the first of any with the same id kept: two staff
    members sharing one mailbox get one email, and storing the event cannot fail on a duplicate.
    Done after preferences are applied, so one member opting out does not silence the other."""
    unique: dict[str, OutgoingEmail] = {}
    for mail in mails:
        unique.setdefault(mail_id(event_id, mail), mail)
    return unique


@dataclass(frozen=True)
class EmailDraft:
    """An email before its wording: who, which thread, and the variables of its template."""

    kind: str
    to: str
    message_id: str
    in_reply_to: str | None
    references: tuple[str, ...]
    reply_to: str
    ticket_id: str
    ref: str
    variables: Mapping[str, str] = field(default_factory=dict)
    audience: str = "customer"
    recipient_id: str | None = None  # the staff member, whose preferences apply

    def finish(self, *, subject: str, text: str, html: str) -> OutgoingEmail:
        return OutgoingEmail(
            to=self.to,
            subject=subject,
            text=text,
            message_id=self.message_id,
            in_reply_to=self.in_reply_to,
            references=self.references,
            reply_to=self.reply_to,
            ticket_id=self.ticket_id,
            ref=self.ref,
            kind=self.kind,
            html=html,
            audience=self.audience,
        )


def mail_domain(support_address: str) -> str:
    """The domain of notify's own Message-IDs: the support mailbox's."""
    return support_address.partition("@")[2] or "ticketstream.local"


def ticket_variables(ticket: TicketSnapshot) -> dict[str, str]:
    """What every template may say about the ticket."""
    return {
        "ref": ticket.ref,
        "title": ticket.title,
        "status": ticket.status.value,
        "priority": ticket.priority.value.title(),
    }


def customer_variables(ticket: TicketSnapshot, follow_url: str) -> dict[str, str]:
    name = ticket.requester.name if ticket.requester and ticket.requester.name else "there"
    return {**ticket_variables(ticket), "customer_name": name, "follow_url": follow_url}


def staff_recipients(ticket: TicketSnapshot) -> list[str]:
    """Assignees, else the assigned team's queue, else the unassigned queue."""
    if ticket.assignee_ids:
        return [f"user:{assignee}" for assignee in ticket.assignee_ids]
    if ticket.assigned_team:
        return [f"team:{ticket.assigned_team}"]
    return [UNASSIGNED_QUEUE]


MANAGERS = "role:manager"
ADMINS = "role:admin"  # what only admins act on, e.g. a webhook switched off after failures
READS_MANAGERS = frozenset({"manager", "admin"})


def principal_recipients(sub: str, teams: list[str], role: str = "agent") -> list[str]:
    """The in-app addresses a staff member reads: their own, their teams', the open queue,
    for managers and admins what goes to the desk's managers, and for admins what goes to admins."""
    managers = [MANAGERS] if role in READS_MANAGERS else []
    admins = [ADMINS] if role == "admin" else []
    return [f"user:{sub}", *(f"team:{team}" for team in teams), UNASSIGNED_QUEUE, *managers, *admins]


def new_ticket_notifications(ticket: TicketSnapshot) -> list[InAppNotification]:
    requester = ticket.requester.email if ticket.requester else "an agent"
    return [
        InAppNotification(
            recipient=recipient,
            kind="ticket.created",
            title=f"New ticket {ticket.ref}: {ticket.title}",
            body=(
                f"{ticket.priority.value.title()} priority, "
                f"from {requester} via {ticket.source.value.lower()}."
            ),
            ref=ticket.ref,
            ticket_id=ticket.id,
        )
        for recipient in staff_recipients(ticket)
    ]


def acknowledgement_email(
    ticket: TicketSnapshot,
    *,
    support_address: str,
    follow_url: str,
    first_interaction: InteractionSummary | None = None,
) -> EmailDraft | None:
    """The 'we have your request' email, threaded with the customer's message.

    None for a ticket opened from an auto-reply (`first_interaction.auto_submitted`): answering
    an out-of-office or a list mail tells nobody anything, and two auto-responders answering each
    other is a mail loop.
    """
    if ticket.requester is None:
        return None
    if first_interaction is not None and first_interaction.auto_submitted:
        return None
    thread = ticket.email_thread_id
    return EmailDraft(
        to=ticket.requester.email,
        message_id=f"<ack.{ticket.id}@{mail_domain(support_address)}>",
        in_reply_to=thread,
        references=(thread,) if thread else (),
        reply_to=plus_address(support_address, ticket.ref),
        ticket_id=ticket.id,
        ref=ticket.ref,
        kind="acknowledgement",
        variables=customer_variables(ticket, follow_url),
    )


def retry_delay(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s, ... after each failed delivery attempt."""
    return FIRST_RETRY_DELAY * int(2 ** max(attempts - 1, 0))


def next_attempt_at(now: datetime, attempts: int) -> datetime:
    return now + retry_delay(attempts)


def public_reply_email(
    ticket: TicketSnapshot, interaction: InteractionSummary, *, support_address: str, follow_url: str = ""
) -> EmailDraft | None:
    """An agent's public reply, sent as tickets wrote it: its Message-ID and thread headers.

    Only customer-visible outbound emails qualify: an internal note can never become an email.
    """
    if interaction.type is not InteractionType.EMAIL_OUTBOUND or not interaction.customer_visible:
        return None
    if not interaction.recipients or not interaction.message_id:
        return None
    return EmailDraft(
        to=interaction.recipients[0],
        message_id=interaction.message_id,
        in_reply_to=interaction.in_reply_to,
        references=tuple(interaction.references),
        reply_to=plus_address(support_address, ticket.ref),
        ticket_id=ticket.id,
        ref=ticket.ref,
        kind="reply",
        variables={
            **customer_variables(ticket, follow_url),
            "subject": interaction.subject or f"[{ticket.ref}] {ticket.title}",
            "reply_text": interaction.body_text,
            "agent_name": (interaction.author.name if interaction.author else None)
            or interaction.author_id
            or "Support",
        },
    )


CUSTOMER_MESSAGE_TYPES = frozenset({InteractionType.EMAIL_INBOUND, InteractionType.PORTAL_MESSAGE})


def interaction_notifications(
    ticket: TicketSnapshot, interaction: InteractionSummary
) -> list[InAppNotification]:
    """Staff hear when the customer writes (not when their auto-responder does), and when a
    note @mentions them."""
    if interaction.type in CUSTOMER_MESSAGE_TYPES and not interaction.auto_submitted:
        who = interaction.author.email if interaction.author else "the customer"
        return [
            InAppNotification(
                recipient=recipient,
                kind="ticket.customer_replied",
                title=f"{ticket.ref}: new message from {who}",
                body=ticket.title,
                ref=ticket.ref,
                ticket_id=ticket.id,
            )
            for recipient in staff_recipients(ticket)
        ]
    if interaction.type is InteractionType.INTERNAL_NOTE:
        author = interaction.author_id or "a colleague"
        return [
            InAppNotification(
                recipient=f"user:{handle}",
                kind="ticket.mentioned",
                title=f"{author} mentioned you on {ticket.ref}",
                body=ticket.title,
                ref=ticket.ref,
                ticket_id=ticket.id,
            )
            for handle in interaction.mentions
            if handle != interaction.author_id
        ]
    return []
