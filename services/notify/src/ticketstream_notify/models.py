"""HTTP models of the notify service."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class NotificationView(BaseModel):
    id: str
    kind: str
    title: str
    body: str
    ref: str | None = None
    ticket_id: str | None = None
    read: bool = Field(description="Whether the caller has read it")
    created_at: datetime


class NotificationList(BaseModel):
    items: list[NotificationView]
    unread_count: int = Field(description="Unread notifications addressed to the caller")


class MarkedRead(BaseModel):
    marked: int = Field(description="Notifications newly marked as read")


class DevMailView(BaseModel):
    id: str
    to: str
    subject: str
    text: str
    html: str = ""
    kind: str = ""
    audience: str = "customer"
    message_id: str
    in_reply_to: str | None
    references: list[str]
    reply_to: str
    status: str
    created_at: datetime


class DevMailList(BaseModel):
    items: list[DevMailView]
