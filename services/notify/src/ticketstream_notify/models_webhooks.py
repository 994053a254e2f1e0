"""HTTP models of the webhook administration API. Secrets appear only in WebhookWithSecret,
the answer to a create or a rotation."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

MAX_URL = 2048
EventTypePattern = Annotated[str, Field(min_length=1, max_length=100)]


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=MAX_URL, description="http(s) URL deliveries are POSTed to")
    event_types: list[EventTypePattern] = Field(
        min_length=1,
        max_length=50,
        description="Exact types ('ticket.created') or patterns ('ticket.*', 'sla.*', '*')",
    )
    secret: str | None = Field(
        None, max_length=200, description="whsec_<base64 of 24-64 bytes>; generated when left out"
    )
    include_internal: bool = Field(
        False,
        description="Also deliver ticket.interaction_added for internal notes, calls and system entries",
    )
    description: str = Field("", max_length=500)
    enabled: bool = True


class WebhookUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(None, min_length=1, max_length=MAX_URL)
    event_types: list[EventTypePattern] | None = Field(None, min_length=1, max_length=50)
    include_internal: bool | None = None
    description: str | None = Field(None, max_length=500)
    enabled: bool | None = Field(
        None, description="false pauses deliveries; true re-enables and clears failures"
    )
    rotate_secret: bool = Field(
        False, description="Replace the secret; the old one keeps signing for the grace period"
    )
    secret: str | None = Field(None, max_length=200, description="With rotate_secret: the new secret to use")


class WebhookView(BaseModel):
    id: str
    url: str
    event_types: list[str]
    include_internal: bool
    description: str
    enabled: bool
    disabled_reason: str | None
    disabled_at: datetime | None
    consecutive_failed_deliveries: int = Field(
        description="Deliveries that failed after every retry, in a row"
    )
    failing_since: datetime | None = Field(description="First failed attempt since the last success")
    last_success_at: datetime | None
    previous_secret_signs_until: datetime | None = Field(
        description="While set, deliveries carry a signature with the previous secret too"
    )
    created_by: str
    created_at: datetime
    updated_at: datetime


class WebhookWithSecret(WebhookView):
    secret: str = Field(description="Shown only now: keep it to verify webhook-signature")


class WebhookList(BaseModel):
    items: list[WebhookView]


class AttemptView(BaseModel):
    at: datetime
    status_code: int | None = Field(description="HTTP status the receiver answered; null on a network error")
    error: str | None
    duration_ms: int
    outcome: str = Field(description="delivered | gone | retry")


class DeliveryView(BaseModel):
    id: str = Field(description="Also the webhook-id header, the same on every retry and resend")
    event_id: str
    event_type: str
    ticket_id: str | None
    ref: str | None
    status: str = Field(description="pending | sending | delivered | failed | skipped")
    attempt_count: int
    attempts: list[AttemptView] = Field(description="Oldest first (the last 50 are kept)")
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime


class DeliveryList(BaseModel):
    items: list[DeliveryView]
    next_cursor: str | None
