"""Pure intake rules: the new ticket and the interactions an inbound message becomes, by channel.

Email (SMTP, webhook, IMAP) opens an EMAIL ticket from one EMAIL_INBOUND message; the portal
form opens a PORTAL ticket with the customer's choices from one PORTAL_MESSAGE; a chat opens a
CHAT ticket whose transcript lines each become a CHAT interaction, in order. No IO here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ticketstream.contracts.events import (
    ChatAuthorRole,
    ChatLine,
    InboundChannel,
    InboundMessageReceived,
    InteractionSummary,
)
from ticketstream.contracts.models import (
    CUSTOMER_VISIBLE_INTERACTIONS,
    InteractionType,
    Person,
    Priority,
    Source,
    TicketType,
)
from ticketstream_tickets.domain import (
    NewTicket,
    inbound_interaction,
    message_text,
    new_ticket_from_email,
    title_from_subject,
)
from ticketstream_tickets.vocabulary import ManagedList

MAX_CATEGORY_LENGTH = 100  # as for a category an agent sets through the API
STAFF_NAMES = {ChatAuthorRole.AGENT: "Support", ChatAuthorRole.BOT: "Bot"}


@dataclass(frozen=True)
class Intake:
    """A new ticket's request, and what was noticed on the way (kept in the activity log)."""

    request: NewTicket
    notes: tuple[str, ...] = ()


def new_ticket(event: InboundMessageReceived, *, support_address: str, categories: ManagedList) -> Intake:
    """The ticket an inbound message opens when it threads onto none."""
    if event.channel is InboundChannel.PORTAL:
        return portal_ticket(event, categories=categories)
    if event.channel is InboundChannel.CHAT:
        return Intake(chat_ticket(event))
    return Intake(new_ticket_from_email(event, support_address=support_address))


def interactions(
    event: InboundMessageReceived,
    *,
    interaction_id: str,
    now: datetime,
    threading_reason: str,
    support_address: str,
) -> list[InteractionSummary]:
    """The interactions of one inbound message; a chat's lines get ids `interaction_id-0000`, ...
    so that lines sent in the same millisecond still sort in transcript order."""
    if event.channel is InboundChannel.PORTAL:
        return [
            portal_message(event, interaction_id=interaction_id, now=now, threading_reason=threading_reason)
        ]
    if event.channel is InboundChannel.CHAT:
        return [
            chat_interaction(
                event,
                line,
                interaction_id=f"{interaction_id}-{index:04d}",
                threading_reason=threading_reason,
                support_address=support_address,
            )
            for index, line in enumerate(transcript_of(event))
        ]
    return [
        inbound_interaction(event, interaction_id=interaction_id, now=now, threading_reason=threading_reason)
    ]


# --- portal form ------------------------------------------------------------------------------


def portal_category(requested: str | None, categories: ManagedList) -> tuple[str | None, str | None]:
    """The category a customer picked, in the list's own spelling; (None, why) when it cannot be
    kept. A bad choice never fails the request: the ticket opens without a category."""
    if requested is None or not requested.strip():
        return None, None
    value = " ".join(requested.split())
    if len(value) > MAX_CATEGORY_LENGTH:
        return None, f"portal category is longer than {MAX_CATEGORY_LENGTH} characters: left empty"
    for known in categories.values:
        if known.casefold() == value.casefold():
            return known, None
    if categories.restricted:
        return None, f"portal category {value!r} is not one of the allowed categories: left empty"
    return value, None


def portal_ticket(event: InboundMessageReceived, *, categories: ManagedList) -> Intake:
    category, problem = portal_category(event.category, categories)
    request = NewTicket(
        title=title_from_subject(event.subject),
        description=event.text_body,
        source=Source.PORTAL,
        requester=event.sender,
        priority=event.priority or Priority.MEDIUM,
        type=event.ticket_type or TicketType.SUPPORT,
        category=category,
    )
    return Intake(request, (problem,) if problem else ())


def portal_message(
    event: InboundMessageReceived, *, interaction_id: str, now: datetime, threading_reason: str
) -> InteractionSummary:
    body, full_text = message_text(event)
    return InteractionSummary(
        id=interaction_id,
        type=InteractionType.PORTAL_MESSAGE,
        customer_visible=InteractionType.PORTAL_MESSAGE in CUSTOMER_VISIBLE_INTERACTIONS,
        author=event.sender,
        body_text=body,
        full_text=full_text,
        attachments=event.attachments,
        threading_reason=threading_reason,
        created_at=now,
    )


# --- chat -------------------------------------------------------------------------------------


def transcript_of(event: InboundMessageReceived) -> list[ChatLine]:
    """The chat's lines; a chat sent without a transcript is its text as one customer line, so
    nothing the customer wrote is dropped."""
    if event.transcript:
        return list(event.transcript)
    return [ChatLine(author_role=ChatAuthorRole.CUSTOMER, text=event.text_body, sent_at=event.received_at)]


def chat_ticket(event: InboundMessageReceived) -> NewTicket:
    lines = transcript_of(event)
    first_customer_line = next(
        (line.text for line in lines if line.author_role is ChatAuthorRole.CUSTOMER and line.text.strip()), ""
    )
    title = event.subject if event.subject.strip() else first_customer_line or "Chat conversation"
    return NewTicket(
        title=title_from_subject(title),
        description=event.text_body or "\n".join(transcript_line(line, event.sender) for line in lines),
        source=Source.CHAT,
        requester=event.sender,
    )


def transcript_line(line: ChatLine, customer: Person) -> str:
    name = line.author_name or (customer.name if line.author_role is ChatAuthorRole.CUSTOMER else None)
    return f"{name or STAFF_NAMES.get(line.author_role, 'Customer')}: {line.text}"


def chat_interaction(
    event: InboundMessageReceived,
    line: ChatLine,
    *,
    interaction_id: str,
    threading_reason: str,
    support_address: str,
) -> InteractionSummary:
    """One chat line, at the time it was sent. The customer's lines are theirs; an agent's or a
    bot's are from the support team (the transcript names them, not their staff accounts)."""
    if line.author_role is ChatAuthorRole.CUSTOMER:
        author = replace_name(event.sender, line.author_name)
    else:
        author = Person(email=support_address, name=line.author_name or STAFF_NAMES[line.author_role])
    return InteractionSummary(
        id=interaction_id,
        type=InteractionType.CHAT,
        customer_visible=InteractionType.CHAT in CUSTOMER_VISIBLE_INTERACTIONS,
        author=author,
        body_text=line.text,
        chat_role=line.author_role,
        threading_reason=threading_reason,
        created_at=line.sent_at,
    )


def replace_name(person: Person, name: str | None) -> Person:
    return person.model_copy(update={"name": name}) if name else person
