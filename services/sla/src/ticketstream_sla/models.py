"""HTTP models of the sla service."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class TargetView(BaseModel):
    target: str = Field(description="first_response | resolution")
    state: str = Field(description="running | paused | met | breached | cancelled")
    status: str = Field(description="What agents see: On Track, Warning, Breached, Met, Paused")
    policy_id: str
    started_at: datetime
    due_at: datetime
    target_seconds: int
    remaining_seconds: int = Field(description="Negative once overdue")


class ClockView(BaseModel):
    ticket_id: str
    ref: str
    priority: str
    targets: list[TargetView]


class PolicyView(BaseModel):
    id: str
    name: str
    priority: str
    first_response_seconds: int
    resolution_seconds: int | None
