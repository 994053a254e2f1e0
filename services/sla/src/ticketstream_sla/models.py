"""HTTP models of the sla service."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from ticketstream.contracts.models import Priority, TicketStatus
from ticketstream_sla.policies import (
    DEFAULT_PAUSE_STATUSES,
    DEFAULT_WARNING_FRACTION,
    MAX_TARGET_SECONDS,
    TWENTY_FOUR_SEVEN,
)

IDENTIFIER = r"^[a-z0-9][a-z0-9_-]{0,63}$"
WALL_TIME = r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$"
DURATION = re.compile(r"^(\d+)([smhd]?)$")
DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
LONGEST_WINDOW = timedelta(days=366)


def duration(text: str) -> timedelta:
    """'2h', '30m', '90s', '1d' or plain seconds."""
    match = DURATION.match(text.strip().lower())
    if match is None or len(match.group(1)) > 12:
        raise ValueError(f"{text!r} is not a duration such as 2h, 30m, 90s or 1d")
    seconds = int(match.group(1)) * DURATION_UNITS[match.group(2)]
    if seconds > LONGEST_WINDOW.total_seconds():
        raise ValueError(f"{text!r} is longer than {LONGEST_WINDOW.days} days")
    return timedelta(seconds=seconds)


class StrictBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- clocks ----------------------------------------------------------------------------------


class TargetView(BaseModel):
    target: str = Field(description="first_response | next_response | resolution")
    state: str = Field(description="running | paused | met | breached | cancelled")
    status: str = Field(description="What agents see: On Track, Warning, Breached, Met, Paused, Cancelled")
    policy_id: str
    policy_version: int
    calendar_id: str
    started_at: datetime
    due_at: datetime | None = Field(description="None while paused or stopped")
    warning_at: datetime | None = Field(description="When the warning is due; None once given")
    target_seconds: int = Field(description="Business seconds allowed")
    elapsed_seconds: int = Field(description="Business seconds counted so far")
    remaining_seconds: int = Field(description="Business seconds left; negative once overdue")
    breached_at: datetime | None
    stopped_at: datetime | None = Field(description="When it was met, cancelled or breached")


class ClockView(BaseModel):
    ticket_id: str
    ref: str
    priority: str
    targets: list[TargetView]


class StretchView(BaseModel):
    start: datetime
    end: datetime
    seconds: int
    counted: bool
    reason: str = Field(description="business hours of <calendar>, outside business hours, paused (...)")


class ChangeView(BaseModel):
    at: datetime
    change: str = Field(
        description="started, paused, resumed, reopened, retargeted, warned, met, breached, ..."
    )
    detail: str | None


class TargetExplanation(BaseModel):
    target: str
    state: str
    target_seconds: int
    counted_seconds: int = Field(description="Sum of the counted stretches")
    remaining_seconds: int
    truncated: bool = Field(description="True when only the latest stretches are listed")
    stretches: list[StretchView]
    history: list[ChangeView]


class ExplainView(BaseModel):
    ticket_id: str
    ref: str
    calendar: str
    targets: list[TargetExplanation]


class AtRiskItem(BaseModel):
    ticket_id: str
    ref: str
    target: str
    priority: str
    team: str | None
    assignee_ids: list[str]
    due_at: datetime
    seconds_to_due: int = Field(description="Wall-clock seconds until due; negative once overdue")
    status: str


class AtRiskView(BaseModel):
    within_seconds: int
    items: list[AtRiskItem]


# --- policies --------------------------------------------------------------------------------


def _pausable(statuses: list[TicketStatus]) -> list[TicketStatus]:
    return sorted(set(statuses))


class PolicyBody(StrictBody):
    """A policy's definition; targets in seconds of business time on its calendar."""

    name: str = Field(min_length=1, max_length=120)
    priority: Priority
    first_response_seconds: int = Field(ge=1, le=MAX_TARGET_SECONDS, description="e.g. 3600 for one hour")
    resolution_seconds: int | None = Field(
        None, ge=1, le=MAX_TARGET_SECONDS, description="None: no resolution target"
    )
    next_response_seconds: int | None = Field(
        None, ge=1, le=MAX_TARGET_SECONDS, description="None: no next-response target"
    )
    customer_tier: str | None = Field(None, max_length=64, description="Only tickets of this tier")
    category: str | None = Field(None, max_length=64, description="Only tickets of this category")
    team: str | None = Field(None, max_length=64, description="Only tickets assigned to this team")
    calendar_id: str = Field(TWENTY_FOUR_SEVEN, description="Business-hours calendar; 24x7 is built in")
    warning_fraction: float = Field(DEFAULT_WARNING_FRACTION, description="Warn when this share is used")
    pause_statuses: Annotated[list[TicketStatus], AfterValidator(_pausable)] = Field(
        default_factory=lambda: sorted(DEFAULT_PAUSE_STATUSES)
    )
    enabled: bool = True


class NewPolicyBody(PolicyBody):
    id: str = Field(pattern=IDENTIFIER, description="Lower-case letters, digits, - and _")


class PolicyView(PolicyBody):
    id: str
    version: int


class PolicyChangeView(BaseModel):
    policy: PolicyView
    retargeted_clocks: int = Field(description="Running clocks moved to the new targets")


# --- calendars -------------------------------------------------------------------------------


class ShiftBody(StrictBody):
    weekday: int = Field(ge=0, le=6, description="0 Monday … 6 Sunday")
    start: str = Field(pattern=WALL_TIME, description="Wall-clock time, 09:00")
    end: str = Field(pattern=WALL_TIME, description="17:00; not after start means the next day")


class CalendarBody(StrictBody):
    name: str = Field(min_length=1, max_length=120)
    time_zone: str = Field("UTC", description="IANA zone, e.g. Europe/Berlin")
    twenty_four_seven: bool = False
    shifts: list[ShiftBody] = Field(default_factory=list, max_length=100)
    holidays: list[str] = Field(default_factory=list, max_length=1000, description="Local dates, 2026-12-25")
    country: str | None = Field(
        None, min_length=2, max_length=3, description="Adds its public holidays, e.g. DE"
    )
    subdivision: str | None = Field(None, max_length=10, description="State or region, e.g. BY")


class NewCalendarBody(CalendarBody):
    id: str = Field(pattern=IDENTIFIER)


class CalendarView(CalendarBody):
    id: str
    version: int
