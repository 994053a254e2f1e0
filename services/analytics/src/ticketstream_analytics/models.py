"""HTTP models of the analytics service (staff reports)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field


class ReportScope(BaseModel):
    start: date = Field(description="First local day of the range")
    end: date = Field(description="Last local day of the range")
    tz: str = Field(description="IANA time zone the days are in")


class VolumeBucket(BaseModel):
    start: date = Field(description="First local day of the bucket")
    created: int = Field(description="Tickets created in the bucket")
    by_source: dict[str, int] = Field(default_factory=dict)


class VolumeReport(ReportScope):
    interval: str
    total: int
    by_source: dict[str, int] = Field(default_factory=dict, description="Tickets per channel")
    buckets: list[VolumeBucket]


class SlaRate(BaseModel):
    dimension: str = Field(description="all, priority, team, agent, category or tier")
    value: str | None = Field(description="The dimension's value (null: not set)")
    target: str = Field(description="first_response or resolution")
    tickets: int = Field(description="Tickets with a target of this kind")
    within_target: int = Field(description="Of those, answered/resolved in less than the target")
    rate: float | None = Field(description="within_target / tickets")


class ClockOutcome(BaseModel):
    target: str
    met: int = Field(description="Tickets whose SLA clock reported met (and never breached)")
    missed: int = Field(description="Tickets whose SLA clock reported a breach")


class BreachCount(BaseModel):
    dimension: str
    value: str | None
    tickets: int
    breached: int = Field(description="Tickets with at least one SLA breach")


class SlaReport(ReportScope):
    tickets: int
    rates: list[SlaRate]
    clock_outcomes: list[ClockOutcome]
    breaches: list[BreachCount]


class TimeRow(BaseModel):
    dimension: str = Field(description="all, agent, team, priority or label")
    value: str | None
    measure: str = Field(description="first_response or resolution")
    tickets: int = Field(description="Tickets with this moment recorded")
    average_seconds: float | None
    p50_seconds: float | None = Field(description="Nearest-rank median")
    p90_seconds: float | None = Field(description="Nearest-rank 90th percentile")


class TimesReport(ReportScope):
    rows: list[TimeRow]


class BacklogPoint(BaseModel):
    day: date
    open: int = Field(description="Tickets created by the end of the day and not resolved by then")


class BacklogReport(ReportScope):
    points: list[BacklogPoint]


class AgentRow(BaseModel):
    agent: str
    handled: int = Field(description="Tickets created in the range that the agent is assigned to")
    per_day: float = Field(description="handled / days in the range")
    average_first_response_seconds: float | None
    resolution_rate: float | None = Field(description="Resolved within target / tickets with a target")
    csat_responses: int
    csat_average: float | None


class AgentsReport(ReportScope):
    days: int
    agents: list[AgentRow]


class CsatByAgent(BaseModel):
    agent: str | None
    responses: int
    average: float | None


class CsatByCategory(BaseModel):
    category: str | None
    responses: int
    average: float | None


class CsatByMonth(BaseModel):
    month: str = Field(description="YYYY-MM of ticket creation, local time")
    responses: int
    average: float | None


class CsatReport(ReportScope):
    responses: int
    average: float | None
    by_agent: list[CsatByAgent]
    by_category: list[CsatByCategory]
    monthly: list[CsatByMonth]


class Detractor(BaseModel):
    ticket_id: str
    ref: str
    score: int
    comment: str | None
    agents: list[str]
    team: str | None
    category: str | None
    created_at: datetime


class DetractorsReport(ReportScope):
    items: list[Detractor]


class NotesByTeam(BaseModel):
    team: str | None
    internal_notes: int
    public_replies: int
    ratio: float | None = Field(description="internal_notes / public_replies")


class NotesByAgent(BaseModel):
    agent: str | None
    internal_notes: int
    public_replies: int
    ratio: float | None


class NotesRatioReport(ReportScope):
    internal_notes: int
    public_replies: int
    ratio: float | None
    by_team: list[NotesByTeam]
    by_agent: list[NotesByAgent]
