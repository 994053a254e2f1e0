"""HTTP models of the suppression list and the live notification stream."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class SuppressionView(BaseModel):
    email: str
    source: str = Field(description="bounce | relay | admin: what suppressed the address")
    reason: str = Field(description="The bounce diagnostic, the relay's reply, or the admin's note")
    suppressed_at: datetime
    message_id: str | None = Field(None, description="Message-ID of the mail that bounced, if known")


class SuppressionList(BaseModel):
    items: list[SuppressionView]


class SuppressionIn(BaseModel):
    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    reason: str = Field("added by an admin", min_length=1, max_length=300)
