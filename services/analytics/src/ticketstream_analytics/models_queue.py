"""HTTP models of the live queue dashboard (staff only)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from ticketstream_analytics.dashboard import AT_RISK_WINDOW, QueueRow, QueueSnapshot


class QueueNumbers(BaseModel):
    open: int = Field(description="Tickets not resolved, closed, merged or archived")
    waiting_on_customer: int = Field(description="Open tickets in WAITING_ON_CUSTOMER")
    at_risk: int = Field(description="Open tickets with a running SLA clock due within the next 2 hours")
    breached: int = Field(description="Open tickets with at least one breached SLA clock")
    unassigned: int = Field(description="Open tickets with no assignee")


class QueueTeamRow(QueueNumbers):
    team: str | None = Field(description="Team id; null for tickets that no team holds")


class QueueDashboardView(BaseModel):
    as_of: datetime = Field(description="The moment the numbers (and 'at risk') were computed, UTC")
    at_risk_window_seconds: int = Field(description="How far ahead a due time counts as at risk")
    totals: QueueNumbers
    teams: list[QueueTeamRow] = Field(description="One row per team with any ticket counted; no team last")

    @classmethod
    def of(cls, snapshot: QueueSnapshot) -> QueueDashboardView:
        return cls(
            as_of=snapshot.as_of,
            at_risk_window_seconds=int(AT_RISK_WINDOW.total_seconds()),
            totals=QueueNumbers(**snapshot.totals),
            teams=[_team_row(row) for row in snapshot.rows],
        )


def _team_row(row: QueueRow) -> QueueTeamRow:
    return QueueTeamRow(team=row.team, **row.numbers())
