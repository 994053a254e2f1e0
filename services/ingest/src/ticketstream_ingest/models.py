"""HTTP request and response models of ingest."""

from __future__ import annotations

from pydantic import BaseModel, Field


class InboundEmailResponse(BaseModel):
    status: str = Field(description="accepted | duplicate")
    inbound_id: str = Field(description="Ingest's id of the stored message")
    message_id: str = Field(description="The message's Message-ID (generated when it had none)")
    reason: str | None = Field(None, description="Why it was not simply accepted")
