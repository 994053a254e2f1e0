"""Pure ticket rules: how a ticket is born from an email or an API request. No IO here."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from ticketstream.contracts.addressing import is_support_address
from ticketstream.contracts.events import (
    InboundMessageReceived,
    InteractionSummary,
)
from ticketstream.contracts.models import (
    CUSTOMER_VISIBLE_INTERACTIONS,
    CustomFieldValue,
    InteractionType,
    Person,
    Priority,
    Source,
    TicketSnapshot,
    TicketStatus,
    TicketType,
)

REF_PREFIX = "TKT-"
REF_PATTERN = re.compile(r"^TKT-([0-9]{4,})$", re.IGNORECASE)
MAX_TITLE_LENGTH = 200
MAX_REFERENCES_KEPT = 20
SYSTEM_ACTOR = "system"


def format_ref(number: int) -> str:
    """TKT-0001 ... TKT-9999, then TKT-10000 and on: the number is never truncated."""
    if number < 1:
        raise ValueError("ticket numbers start at 1")
    return f"{REF_PREFIX}{number:04d}"


def parse_ref(text: str) -> int | None:
    match = REF_PATTERN.match(text.strip())
    number = int(match.group(1)) if match else 0
    return number if number >= 1 else None


def title_from_subject(subject: str) -> str:
    title = " ".join(subject.split())
    return (title or "(no subject)")[:MAX_TITLE_LENGTH]


@dataclass(frozen=True)
class NewTicket:
    """What a creator asks for; identity, ref and time are assigned by the caller."""

    title: str
    description: str
    source: Source
    requester: Person | None
    priority: Priority = Priority.MEDIUM
    type: TicketType = TicketType.SUPPORT
    category: str | None = None
    tags: tuple[str, ...] = ()
    email_thread_id: str | None = None
    follow_up_of: str | None = None
    assigned_team: str | None = None
    split_from: str | None = None
    assignee_ids: tuple[str, ...] = ()
    routed_by: str | None = None
    cc: tuple[Person, ...] = ()
    custom_fields: Mapping[str, CustomFieldValue] = field(default_factory=dict)


def cc_people(event: InboundMessageReceived, *, support_address: str) -> tuple[Person, ...]:
    """Who was copied on a customer's email, without the support mailbox and the sender."""
    return tuple(
        Person(email=address)
        for address in dict.fromkeys(event.cc + [r for r in event.recipients if r != event.sender.email])
        if address != event.sender.email and not is_support_address(address, support_address)
    )


AUTO_REPLY_TAG = "auto-reply"


def new_ticket_from_email(event: InboundMessageReceived, *, support_address: str) -> NewTicket:
    """The ticket a customer's email opens. The description keeps the whole text, quoted history
    included: when no thread matched, that history is the agent's only context. A machine-written
    message (out-of-office, list mail) still opens a ticket, tagged so agents can filter it."""
    return NewTicket(
        title=title_from_subject(event.subject),
        description=event.text_body,
        source=Source.EMAIL,
        requester=event.sender,
        email_thread_id=event.email_thread_id,
        cc=cc_people(event, support_address=support_address),
        tags=(AUTO_REPLY_TAG,) if event.auto_submitted else (),
    )


def open_ticket(
    request: NewTicket,
    *,
    ticket_id: str,
    number: int,
    customer_id: str | None,
    now: datetime,
    organisation_id: str | None = None,
    cc_contact_ids: Sequence[str] = (),
) -> TicketSnapshot:
    """A new ticket: OPEN, version 1, requester as its primary contact, CC'd people as contacts."""
    requester = request.requester
    return TicketSnapshot(
        id=ticket_id,
        ref=format_ref(number),
        title=request.title,
        description=request.description,
        status=TicketStatus.OPEN,
        priority=request.priority,
        type=request.type,
        source=request.source,
        source_email=requester.email if requester and request.source is Source.EMAIL else None,
        category=request.category,
        tags=sorted(set(request.tags)),
        custom_fields=dict(request.custom_fields),
        requester=requester,
        customer_id=customer_id,
        organisation_id=organisation_id,
        contact_ids=[*([customer_id] if customer_id else []), *sorted(set(cc_contact_ids) - {customer_id})],
        primary_contact_id=customer_id,
        email_thread_id=request.email_thread_id,
        follow_up_of=request.follow_up_of,
        assigned_team=request.assigned_team,
        assignee_ids=sorted(set(request.assignee_ids)),
        split_from=request.split_from,
        version=1,
        created_at=now,
        updated_at=now,
    )


def message_text(event: InboundMessageReceived) -> tuple[str, str | None]:
    """(body_text, full_text) of an inbound message: the new text of a reply when ingest cut
    quoted history off, with the whole text kept for staff; the whole text alone otherwise."""
    reply = event.reply_text
    if reply is None or not reply.strip() or reply == event.text_body:
        return event.text_body, None
    return reply, event.text_body


def inbound_interaction(
    event: InboundMessageReceived,
    *,
    interaction_id: str,
    now: datetime,
    threading_reason: str | None = None,
) -> InteractionSummary:
    body, full_text = message_text(event)
    return InteractionSummary(
        id=interaction_id,
        type=InteractionType.EMAIL_INBOUND,
        customer_visible=InteractionType.EMAIL_INBOUND in CUSTOMER_VISIBLE_INTERACTIONS,
        author=event.sender,
        body_text=body,
        full_text=full_text,
        message_id=event.message_id,
        subject=event.subject,
        in_reply_to=event.in_reply_to,
        references=event.references[-MAX_REFERENCES_KEPT:],
        attachments=event.attachments,
        auto_submitted=event.auto_submitted,
        threading_reason=threading_reason,
        created_at=now,
    )


def touch(ticket: TicketSnapshot, *, now: datetime) -> TicketSnapshot:
    """The ticket after a change: next version, updated now."""
    return ticket.model_copy(update={"version": ticket.version + 1, "updated_at": now})


class DomainError(Exception):
    """A rule said no; `code` and `details` tell the caller what and why."""

    code = "rule_violated"

    def __init__(self, message: str, details: object = None) -> None:
        super().__init__(message)
        self.details = details


# --- who may see what ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StaffViewer:
    """A staff member as far as visibility goes: managers and admins see every ticket; agents and
    team leads see their teams' tickets and those assigned to them."""

    user_id: str
    teams: tuple[str, ...]
    sees_everything: bool


def staff_can_see(viewer: StaffViewer, ticket: TicketSnapshot) -> bool:
    return (
        viewer.sees_everything
        or viewer.user_id in ticket.assignee_ids
        or (ticket.assigned_team is not None and ticket.assigned_team in viewer.teams)
    )


@dataclass(frozen=True)
class CustomerViewer:
    """A customer as far as visibility goes: their own tickets, and their organisation's when an
    administrator granted it (a team lead at a client following colleagues' requests)."""

    email: str
    organisation_id: str | None = None


def customer_can_see(viewer: CustomerViewer, ticket: TicketSnapshot) -> bool:
    email = viewer.email.lower()
    own = bool(email) and ticket.requester is not None and ticket.requester.email == email
    shared = viewer.organisation_id is not None and ticket.organisation_id == viewer.organisation_id
    return own or shared
