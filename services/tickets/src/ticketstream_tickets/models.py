"""HTTP models of the tickets service. Staff and customer views are separate types: the customer
types have no field that could carry an internal note, a call log or a system entry."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field, StringConstraints, model_validator

from ticketstream.contracts.events import InteractionSummary
from ticketstream.contracts.models import (
    CustomFieldValue,
    InteractionType,
    Priority,
    TicketSnapshot,
    TicketStatus,
    TicketType,
)


class RequesterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    name: str | None = Field(None, max_length=200)


class CreateTicketRequest(BaseModel):
    """A ticket created through the API (source API)."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=100_000)
    priority: Priority = Priority.MEDIUM
    type: TicketType = TicketType.SUPPORT
    category: str | None = Field(None, max_length=100)
    tags: list[str] = Field(default_factory=list, max_length=50)
    requester: RequesterIn | None = None
    assigned_team: str | None = Field(None, max_length=100)
    custom_fields: dict[str, CustomFieldValue] = Field(
        default_factory=dict, max_length=100, description="Values of defined custom fields, by key"
    )


class UpdateTicketRequest(BaseModel):
    """Fields to change; omitted fields stay as they are. Send `If-Match: "<version>"`."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=100_000)
    status: TicketStatus | None = None
    priority: Priority | None = None
    type: TicketType | None = None
    category: str | None = Field(None, max_length=100)
    tags: list[str] | None = Field(None, max_length=50)
    assignee_ids: list[str] | None = Field(None, max_length=20)
    assigned_team: str | None = Field(None, max_length=100)
    resolution_notes: str | None = Field(None, max_length=20_000)
    assignment_reason: str | None = Field(
        None, max_length=2_000, description="Why the assignees or team change (kept in the activity log)"
    )
    custom_fields: dict[str, CustomFieldValue | None] | None = Field(
        None, max_length=100, description="Custom field values to set; null clears a field"
    )


class MessageRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=100_000)


MAX_ATTACHMENTS = 20
MAX_ATTACHMENT_BYTES = 50 * 1024 * 1024
UNSAFE_FILENAME = re.compile(r"[/\\\x00-\x1f\x7f]")


class AttachmentIn(BaseModel):
    """A file already stored elsewhere, referenced by its storage id; tickets keeps no bytes."""

    model_config = ConfigDict(extra="forbid")

    filename: str = Field(min_length=1, max_length=255, description="A plain file name, no path")
    content_type: str = Field(pattern=r"^[\w.+-]+/[\w.+-]+$", max_length=127)
    size: int = Field(ge=0, le=MAX_ATTACHMENT_BYTES)
    storage_id: str = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _plain_name(self) -> AttachmentIn:
        if UNSAFE_FILENAME.search(self.filename) or self.filename in {".", ".."}:
            raise ValueError("filename must be a plain name without path separators or control characters")
        return self


class NoteRequest(MessageRequest):
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)


class LogRequest(BaseModel):
    """A contact that happened outside the help desk; only an SMS is shown to the customer."""

    model_config = ConfigDict(extra="forbid")

    type: InteractionType = Field(description="PHONE_CALL, MEETING, SMS or NOTE")
    body: str = Field(min_length=1, max_length=100_000, description="What was said or agreed")
    occurred_at: AwareDatetime | None = Field(
        None, description="When it happened (default: now); not in the future"
    )
    duration_minutes: int | None = Field(None, ge=0, le=24 * 60)
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)


class EscalateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2_000)
    level: int | None = Field(None, ge=1, le=2, description="1 team lead, 2 manager; default: one tier up")


class MergeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    into: str = Field(min_length=1, max_length=64, description="Ref or id of the ticket to keep")


class SplitRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    interaction_id: str = Field(min_length=1, max_length=64)
    title: str | None = Field(None, min_length=1, max_length=200)


class StaffTicketView(TicketSnapshot):
    """Everything about a ticket, for agents."""


class StaffTicketDetail(StaffTicketView):
    interactions: list[InteractionSummary] = Field(default_factory=list)


class TicketList(BaseModel):
    items: list[StaffTicketView]
    next_cursor: str | None = None


class InteractionList(BaseModel):
    items: list[InteractionSummary]


class StaffInteractionCreated(BaseModel):
    ticket: StaffTicketView
    interaction: InteractionSummary


class ActivityChange(BaseModel):
    field: str
    before: Any = None
    after: Any = None


class ActivityEntry(BaseModel):
    sequence: int
    action: str = Field(description="The event type of the change, e.g. ticket.status_changed")
    actor: str
    at: datetime
    changes: list[ActivityChange]


class ActivityList(BaseModel):
    items: list[ActivityEntry]


class GlobalActivityEntry(ActivityEntry):
    ref: str
    ticket_id: str


class GlobalActivityList(BaseModel):
    items: list[GlobalActivityEntry]


# --- customer portal --------------------------------------------------------------------------

CustomerVisibleType = Literal["EMAIL_INBOUND", "EMAIL_OUTBOUND", "SMS", "CHAT", "PORTAL_MESSAGE"]


class PortalAttachmentView(BaseModel):
    filename: str
    content_type: str
    size: int


class PortalInteractionView(BaseModel):
    """A message on the customer's ticket; only customer-visible types validate."""

    id: str
    type: CustomerVisibleType
    from_support: bool = Field(description="True when written by the support team")
    author_name: str | None = None
    body_text: str
    attachments: list[PortalAttachmentView] = Field(default_factory=list)
    created_at: datetime


class PortalTicketView(BaseModel):
    ref: str
    title: str
    description: str
    status: TicketStatus
    priority: Priority
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None = None
    closed_at: datetime | None = None


class PortalTicketDetail(PortalTicketView):
    messages: list[PortalInteractionView]


class PortalTicketList(BaseModel):
    items: list[PortalTicketView]
    next_cursor: str | None = None


class MergeResult(BaseModel):
    merged: StaffTicketView = Field(description="The duplicate, now closed and merged")
    into: StaffTicketView = Field(description="The ticket that was kept")


class SplitResult(BaseModel):
    original: StaffTicketView
    new_ticket: StaffTicketView


class RenderedCannedResponse(BaseModel):
    id: str
    title: str
    body: str


class ReplyRequest(BaseModel):
    """A public reply: write `body`, or name a canned response to fill in for this ticket."""

    model_config = ConfigDict(extra="forbid")

    body: str | None = Field(None, min_length=1, max_length=100_000)
    canned_response_id: str | None = Field(None, min_length=1, max_length=64)
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)

    @model_validator(mode="after")
    def _exactly_one(self) -> ReplyRequest:
        if (self.body is None) == (self.canned_response_id is None):
            raise ValueError("give either body or canned_response_id")
        return self


MAX_BULK = 500


class BulkChanges(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: TicketStatus | None = None
    priority: Priority | None = None
    assignee_ids: list[str] | None = Field(None, max_length=20)
    assigned_team: str | None = Field(None, max_length=100)
    add_tags: list[str] = Field(default_factory=list, max_length=50)
    remove_tags: list[str] = Field(default_factory=list, max_length=50)
    archive: bool = False

    @model_validator(mode="after")
    def _something(self) -> BulkChanges:
        if not (self.model_dump(exclude_defaults=True)):
            raise ValueError("name at least one change")
        return self


class BulkRequest(BaseModel):
    """The same change applied to up to 500 tickets; each ticket succeeds or fails on its own."""

    model_config = ConfigDict(extra="forbid")

    refs: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] = Field(
        min_length=1, max_length=MAX_BULK
    )
    changes: BulkChanges


class BulkItemResult(BaseModel):
    ref: str
    ok: bool
    version: int | None = None
    code: str | None = None
    message: str | None = None


class BulkResult(BaseModel):
    succeeded: int
    failed: int
    items: list[BulkItemResult]


class MagicLink(BaseModel):
    url: str = Field(description="GET shows the ticket; POST {url}/replies answers it")
    token: str
    expires_at: datetime
