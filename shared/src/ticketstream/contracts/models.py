"""Shared vocabulary of the domain: enums and the ticket snapshot carried by ticket events."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class TicketStatus(StrEnum):
    OPEN = "OPEN"
    IN_PROGRESS = "IN_PROGRESS"
    PENDING = "PENDING"
    WAITING_ON_CUSTOMER = "WAITING_ON_CUSTOMER"
    RESOLVED = "RESOLVED"
    CLOSED = "CLOSED"


class Priority(StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    URGENT = "URGENT"


class TicketType(StrEnum):
    SUPPORT = "SUPPORT"
    CUSTOMER_REQUEST = "CUSTOMER_REQUEST"
    BUG = "BUG"
    FEATURE = "FEATURE"


class Source(StrEnum):
    EMAIL = "EMAIL"
    PORTAL = "PORTAL"
    CHAT = "CHAT"
    PHONE = "PHONE"
    API = "API"
    MANUAL = "MANUAL"


class InteractionType(StrEnum):
    EMAIL_INBOUND = "EMAIL_INBOUND"
    EMAIL_OUTBOUND = "EMAIL_OUTBOUND"
    SMS = "SMS"
    CHAT = "CHAT"
    PORTAL_MESSAGE = "PORTAL_MESSAGE"
    PHONE_CALL = "PHONE_CALL"
    MEETING = "MEETING"
    NOTE = "NOTE"
    INTERNAL_NOTE = "INTERNAL_NOTE"
    SYSTEM = "SYSTEM"
    FORM_SUBMISSION = "FORM_SUBMISSION"


CUSTOMER_VISIBLE_INTERACTIONS: frozenset[InteractionType] = frozenset(
    {
        InteractionType.EMAIL_INBOUND,
        InteractionType.EMAIL_OUTBOUND,
        InteractionType.SMS,
        InteractionType.CHAT,
        InteractionType.PORTAL_MESSAGE,
    }
)


class DeliveryStatus(StrEnum):
    """How far an outbound email got: handed to notify, accepted by the mail relay, given up after
    retries, or bounced back by the recipient's server."""

    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    BOUNCED = "bounced"


# A custom field's value: text, number, yes/no, an ISO date (as text) or several choices.
CustomFieldValue = str | int | float | bool | list[str]


class Contract(BaseModel):
    """Base of every wire model: strict about unknown input, immutable once built."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class Person(Contract):
    email: str = Field(description="Email address, lower-cased")
    name: str | None = Field(None, description="Display name when known")


class Csat(Contract):
    score: int = Field(ge=1, le=5, description="1 (very unhappy) to 5 (very happy)")
    comment: str | None = None


class TicketSnapshot(Contract):
    """The full ticket as of `version`, so consumers never need to call back."""

    id: str
    ref: str = Field(description="Human reference, TKT-0001")
    title: str
    description: str = ""
    status: TicketStatus
    priority: Priority
    type: TicketType = TicketType.SUPPORT
    source: Source
    source_email: str | None = None
    category: str | None = None
    tags: list[str] = Field(default_factory=list)
    custom_fields: dict[str, CustomFieldValue] = Field(
        default_factory=dict, description="Values of the custom fields an administrator defined, by key"
    )
    assignee_ids: list[str] = Field(default_factory=list)
    assigned_team: str | None = None
    requester: Person | None = None
    customer_id: str | None = None
    organisation_id: str | None = Field(None, description="The requester's organisation, by email domain")
    contact_ids: list[str] = Field(default_factory=list)
    primary_contact_id: str | None = None
    email_thread_id: str | None = None
    due_date: datetime | None = None
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    sla_breach_at: datetime | None = None
    escalation_level: int = Field(0, ge=0, le=2, description="0 member, 1 team lead, 2 manager")
    merged_into: str | None = None
    archived: bool = False
    csat: Csat | None = None
    resolution_notes: str | None = Field(None, description="What solved it, recorded on RESOLVED")
    follow_up_of: str | None = Field(None, description="Ref of the closed ticket this one follows up")
    split_from: str | None = Field(None, description="Ref of the ticket this one was split from")
    version: int = Field(ge=1)
    created_at: datetime
    updated_at: datetime
