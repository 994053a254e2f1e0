"""HTTP models of the tickets service. Staff and customer views are separate types."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from ticketstream.contracts.events import InteractionSummary
from ticketstream.contracts.models import Priority, TicketSnapshot, TicketType


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


class StaffTicketView(TicketSnapshot):
    """Everything about a ticket, for agents."""


class StaffTicketDetail(StaffTicketView):
    interactions: list[InteractionSummary] = Field(default_factory=list)


class TicketList(BaseModel):
    items: list[StaffTicketView]
    next_cursor: str | None = None
