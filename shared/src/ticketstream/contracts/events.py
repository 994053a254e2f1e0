"""Payload models of every event on the backbone (ARCHITECTURE §3).

Each class names its CloudEvents `type` and its topic. Payloads may grow (additive fields with
defaults); names never change within a `.v1` topic.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from ticketstream.contracts import topics
from ticketstream.contracts.models import (
    Contract,
    Csat,
    DeliveryStatus,
    InteractionType,
    Person,
    Priority,
    TicketSnapshot,
    TicketStatus,
    TicketType,
)


class Event(Contract):
    """Base of every event payload."""

    event_type: ClassVar[str]
    topic: ClassVar[str]


# --- ticketstream.inbound.v1 (producer: ingest) ---------------------------------------------


class InboundChannel(StrEnum):
    SMTP = "SMTP"
    WEBHOOK = "WEBHOOK"
    IMAP = "IMAP"
    PORTAL = "PORTAL"
    CHAT = "CHAT"


class AttachmentRef(Contract):
    filename: str = Field(description="Safe basename")
    content_type: str
    size: int = Field(ge=0)
    storage_id: str = Field(description="Where ingest keeps the bytes ('' when it kept no copy)")
    withheld: str | None = Field(
        None,
        description="Why ingest kept no separate copy (e.g. over the size limit); the raw message has it",
    )
    inline: bool = Field(False, description="Shown inside the message (an inline image), not attached")


class ChatAuthorRole(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    BOT = "bot"


class ChatLine(Contract):
    """One message of a chat or widget conversation."""

    author_role: ChatAuthorRole
    author_name: str | None = Field(None, description="Display name shown in the chat")
    text: str = Field(description="What was written, as plain text")
    sent_at: datetime


class AuthenticationVerdicts(Contract):
    """What the receiving mail server concluded (Authentication-Results), when it said."""

    spf: str | None = Field(None, description="pass, fail, softfail, neutral, none, temperror or permerror")
    dkim: str | None = None
    dmarc: str | None = None


class InboundMessageReceived(Event):
    """A customer message was accepted by ingest and stored durably."""

    event_type: ClassVar[str] = "inbound.message.received"
    topic: ClassVar[str] = topics.INBOUND

    inbound_id: str = Field(description="Ingest's id of the stored message")
    channel: InboundChannel
    message_id: str = Field(description="RFC 5322 Message-ID (generated when the sender sent none)")
    in_reply_to: str | None = None
    references: list[str] = Field(default_factory=list)
    email_thread_id: str = Field(description="Root Message-ID of the conversation")
    sender: Person
    recipients: list[str] = Field(default_factory=list)
    cc: list[str] = Field(default_factory=list)
    subject: str
    text_body: str = Field("", description="Plain-text rendering of the message")
    html_body: str | None = Field(None, description="Sanitised HTML, when the message had HTML")
    attachments: list[AttachmentRef] = Field(default_factory=list)
    auto_submitted: bool = Field(False, description="Auto-reply or machine-generated mail")
    auto_submitted_reason: str | None = Field(
        None, description="Which header showed it was machine-generated, e.g. 'Auto-Submitted: auto-replied'"
    )
    received_at: datetime
    reply_text: str | None = Field(
        None,
        description="The new text of a reply without quoted history or signature; None when nothing was cut",
    )
    addressed_ref: str | None = Field(
        None, description="Ticket ref of the plus-address the message was sent to (support+TKT-0042@...)"
    )
    subject_ref: str | None = Field(None, description="Ticket ref of a [TKT-0042] token in the subject")
    sender_domain: str = Field("", description="Domain of the sender's address")
    sender_free_mail: bool = Field(
        False, description="The sender's domain is a free-mail provider (never used to link an organisation)"
    )
    authentication: AuthenticationVerdicts | None = Field(
        None, description="SPF/DKIM/DMARC verdicts of the receiving server, when present"
    )
    priority: Priority | None = Field(None, description="Priority the customer chose on the portal form")
    ticket_type: TicketType | None = Field(None, description="Type the customer chose on the portal form")
    category: str | None = Field(None, description="Category the customer chose on the portal form")
    transcript: list[ChatLine] = Field(
        default_factory=list, description="A chat conversation, line by line (channel CHAT)"
    )
    truncated: bool = Field(
        False,
        description="Text, HTML or References were cut to keep the event small; ingest keeps the raw message",
    )


class InboundCsatSubmitted(Event):
    event_type: ClassVar[str] = "inbound.csat.submitted"
    topic: ClassVar[str] = topics.INBOUND

    ticket_id: str
    ref: str
    csat: Csat
    submitted_at: datetime


class InboundBounceReceived(Event):
    event_type: ClassVar[str] = "inbound.bounce.received"
    topic: ClassVar[str] = topics.INBOUND

    inbound_id: str
    bounced_address: str
    original_message_id: str | None = None
    permanent: bool = True
    diagnostic: str | None = None
    received_at: datetime


# --- ticketstream.tickets.v1 (producer: tickets) --------------------------------------------


class InteractionSummary(Contract):
    id: str
    type: InteractionType
    customer_visible: bool
    author: Person | None = None
    author_id: str | None = Field(None, description="Staff user id of the author, when staff")
    body_text: str = ""
    message_id: str | None = Field(None, description="RFC 5322 Message-ID of an email interaction")
    subject: str | None = Field(None, description="Subject of an email interaction")
    in_reply_to: str | None = None
    references: list[str] = Field(default_factory=list)
    recipients: list[str] = Field(default_factory=list, description="To of an outbound email")
    mentions: list[str] = Field(default_factory=list, description="Staff @mentioned in a note")
    attachments: list[AttachmentRef] = Field(default_factory=list, description="Files, by reference")
    duration_minutes: int | None = Field(None, ge=0, description="Of a logged phone call or meeting")
    delivery_status: DeliveryStatus | None = Field(None, description="Of an outbound email")
    delivery_detail: str | None = Field(None, description="Why a delivery failed or bounced")
    auto_submitted: bool = Field(False, description="An inbound auto-reply or machine-generated message")
    threading_reason: str | None = Field(
        None, description="Why an inbound message landed on this ticket, e.g. 'matched References to ...'"
    )
    full_text: str | None = Field(
        None,
        description=(
            "Staff only: the whole inbound text with quoted history, when body_text holds only the new "
            "reply; None when body_text is the whole message"
        ),
    )
    chat_role: ChatAuthorRole | None = Field(
        None, description="Of a CHAT line: whether the customer, an agent or a bot wrote it"
    )
    created_at: datetime


class TicketEvent(Event):
    """Every ticket event carries the id, ref, version after the change and the full ticket."""

    topic: ClassVar[str] = topics.TICKETS

    ticket_id: str
    ref: str
    sequence: int = Field(ge=1, description="The ticket's version after this change")
    actor: str | None = Field(None, description="Who made the change: user id, or 'system'")
    occurred_at: datetime
    ticket: TicketSnapshot


class TicketCreated(TicketEvent):
    event_type: ClassVar[str] = "ticket.created"
    first_interaction: InteractionSummary | None = Field(
        None,
        description=(
            "The message the ticket was opened from (an email, portal form or chat's first line), if any; "
            "its auto_submitted flag tells whether a machine wrote it"
        ),
    )


class TicketUpdated(TicketEvent):
    event_type: ClassVar[str] = "ticket.updated"
    changed_fields: list[str] = Field(default_factory=list)


class TicketStatusChanged(TicketEvent):
    event_type: ClassVar[str] = "ticket.status_changed"
    from_status: TicketStatus
    to_status: TicketStatus


class TicketAssigned(TicketEvent):
    event_type: ClassVar[str] = "ticket.assigned"
    previous_assignee_ids: list[str] = Field(default_factory=list)
    reason: str | None = None


class TicketInteractionAdded(TicketEvent):
    event_type: ClassVar[str] = "ticket.interaction_added"
    interaction: InteractionSummary


class TicketEscalated(TicketEvent):
    event_type: ClassVar[str] = "ticket.escalated"
    from_level: int
    to_level: int
    reason: str
    previous_priority: Priority
    seconds_since_created: int = Field(0, ge=0, description="Time to escalation, in seconds")


class TicketMerged(TicketEvent):
    event_type: ClassVar[str] = "ticket.merged"
    merged_into: str


class TicketSplit(TicketEvent):
    event_type: ClassVar[str] = "ticket.split"
    new_ticket_id: str
    new_ref: str


class TicketArchived(TicketEvent):
    event_type: ClassVar[str] = "ticket.archived"


class TicketCsatRecorded(TicketEvent):
    event_type: ClassVar[str] = "ticket.csat_recorded"
    csat: Csat


# --- ticketstream.sla.v1 (producer: sla) ----------------------------------------------------


class SlaTarget(StrEnum):
    FIRST_RESPONSE = "first_response"
    NEXT_RESPONSE = "next_response"
    RESOLUTION = "resolution"


class SlaEvent(Event):
    topic: ClassVar[str] = topics.SLA

    ticket_id: str
    ref: str
    clock_id: str
    target: SlaTarget
    policy_id: str
    priority: Priority
    due_at: datetime | None = Field(None, description="Computed due time; None while paused")
    occurred_at: datetime


class SlaClockStarted(SlaEvent):
    event_type: ClassVar[str] = "sla.clock_started"
    target_seconds: int = Field(ge=1)


class SlaClockRetargeted(SlaEvent):
    """The ticket's priority (or what chooses its policy) changed: a new target and due time,
    with the business time already counted kept."""

    event_type: ClassVar[str] = "sla.clock_retargeted"
    target_seconds: int = Field(ge=1)


class SlaClockPaused(SlaEvent):
    event_type: ClassVar[str] = "sla.clock_paused"


class SlaClockResumed(SlaEvent):
    event_type: ClassVar[str] = "sla.clock_resumed"


class SlaWarning(SlaEvent):
    event_type: ClassVar[str] = "sla.warning"


class SlaBreached(SlaEvent):
    event_type: ClassVar[str] = "sla.breached"


class SlaMet(SlaEvent):
    event_type: ClassVar[str] = "sla.met"


class SlaClockCancelled(SlaEvent):
    event_type: ClassVar[str] = "sla.clock_cancelled"


class SlaWaitingEvent(Event):
    """A ticket has waited on its customer for a quiet period with no customer reply."""

    topic: ClassVar[str] = topics.SLA

    ticket_id: str
    ref: str
    waiting_since: datetime = Field(description="When the ticket went WAITING_ON_CUSTOMER")
    occurred_at: datetime


class SlaWaitingReminderDue(SlaWaitingEvent):
    """Time to ask the customer whether the problem still needs us (notify sends the check-in)."""

    event_type: ClassVar[str] = "sla.waiting_reminder_due"
    close_at: datetime = Field(description="When the ticket closes unless the customer replies")


class SlaWaitingAutoCloseDue(SlaWaitingEvent):
    """The customer stayed silent after the reminder: tickets closes the ticket with a system note."""

    event_type: ClassVar[str] = "sla.waiting_auto_close_due"


# --- ticketstream.notify.v1 (producer: notify) ----------------------------------------------


class NotifyEvent(Event):
    topic: ClassVar[str] = topics.NOTIFY

    notification_id: str
    ticket_id: str | None = None
    ref: str | None = None
    channel: str = Field(description="email | in_app | webhook")
    recipient: str
    message_id: str | None = Field(None, description="Message-ID of the email, for the email channel")
    occurred_at: datetime


class NotifyDelivered(NotifyEvent):
    event_type: ClassVar[str] = "notify.delivered"


class NotifyFailed(NotifyEvent):
    event_type: ClassVar[str] = "notify.failed"
    error: str
    permanent: bool = False


class NotifyWebhookDelivered(NotifyEvent):
    event_type: ClassVar[str] = "notify.webhook_delivered"
    status_code: int


class NotifyWebhookFailed(NotifyEvent):
    event_type: ClassVar[str] = "notify.webhook_failed"
    error: str
    status_code: int | None = None


# --- ticketstream.directory.v1 (producer: tickets; compacted, keyed by entity id) -----------


class DirectoryEvent(Event):
    topic: ClassVar[str] = topics.DIRECTORY

    id: str
    deleted: bool = False
    occurred_at: datetime


class DirectoryAgent(DirectoryEvent):
    event_type: ClassVar[str] = "directory.agent"
    email: str
    name: str
    role: str
    teams: list[str] = Field(default_factory=list)


class DirectoryTeam(DirectoryEvent):
    event_type: ClassVar[str] = "directory.team"
    name: str
    lead_ids: list[str] = Field(default_factory=list)
    manager_ids: list[str] = Field(default_factory=list)


class DirectoryCustomer(DirectoryEvent):
    event_type: ClassVar[str] = "directory.customer"
    email: str
    name: str | None = None
    organisation_id: str | None = None
    tier: str | None = None


EVENT_CLASSES: tuple[type[Event], ...] = (
    InboundMessageReceived,
    InboundCsatSubmitted,
    InboundBounceReceived,
    TicketCreated,
    TicketUpdated,
    TicketStatusChanged,
    TicketAssigned,
    TicketInteractionAdded,
    TicketEscalated,
    TicketMerged,
    TicketSplit,
    TicketArchived,
    TicketCsatRecorded,
    SlaClockStarted,
    SlaClockRetargeted,
    SlaClockPaused,
    SlaClockResumed,
    SlaWarning,
    SlaBreached,
    SlaMet,
    SlaClockCancelled,
    SlaWaitingReminderDue,
    SlaWaitingAutoCloseDue,
    NotifyDelivered,
    NotifyFailed,
    NotifyWebhookDelivered,
    NotifyWebhookFailed,
    DirectoryAgent,
    DirectoryTeam,
    DirectoryCustomer,
)

EVENT_TYPES: dict[str, type[Event]] = {cls.event_type: cls for cls in EVENT_CLASSES}
