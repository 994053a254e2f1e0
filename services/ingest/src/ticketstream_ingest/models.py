"""HTTP request and response models of ingest."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from ticketstream.contracts.events import InboundChannel
from ticketstream_ingest.screening import HoldReason
from ticketstream_ingest.store_quarantine import HeldMessage, QuarantineState


class InboundEmailResponse(BaseModel):
    status: str = Field(description="accepted | duplicate | quarantined")
    inbound_id: str = Field(description="Ingest's id of the stored message (a q-… id when quarantined)")
    message_id: str | None = Field(description="The message's Message-ID (generated when it had none)")
    reason: str | None = Field(None, description="Why it was not simply accepted")


class QuarantineEntryView(BaseModel):
    id: str
    reason: HoldReason = Field(description="Why the message was held")
    detail: str = Field(description="The reason in words")
    state: QuarantineState
    channel: InboundChannel
    sender: str | None = None
    subject: str | None = None
    message_id: str | None = None
    size: int = Field(description="Bytes kept")
    held_at: datetime
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    released_as: str | None = Field(None, description="Inbound id the message got when released")

    @classmethod
    def of(cls, entry: HeldMessage) -> QuarantineEntryView:
        return cls(**entry.__dict__)


class QuarantinePage(BaseModel):
    items: list[QuarantineEntryView]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next (older) page")


class ReleaseResponse(BaseModel):
    entry: QuarantineEntryView
    result: InboundEmailResponse
