"""HTTP edge of the sla service: clocks, their explanation and the at-risk queue (staff)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status

from ticketstream.auth import StaffPrincipal
from ticketstream_sla.clocks import Clock, agent_status
from ticketstream_sla.explain import explain
from ticketstream_sla.models import (
    AtRiskItem,
    AtRiskView,
    ChangeView,
    ClockView,
    ExplainView,
    StretchView,
    TargetExplanation,
    TargetView,
    duration,
)
from ticketstream_sla.store import SlaStore, TicketClocks

router = APIRouter(prefix="/v1", tags=["sla"])
MAX_AT_RISK = 500


def get_sla_store(request: Request) -> SlaStore:
    store: SlaStore = request.app.state.sla_store
    return store


SlaStoreDep = Annotated[SlaStore, Depends(get_sla_store)]


async def _ticket_clocks(store: SlaStore, ref: str) -> TicketClocks:
    found = await store.clocks_of(ref)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no SLA clock for {ref}")
    return found


@router.get("/clocks/{ref}", summary="SLA targets of a ticket (ref or id)")
async def get_clocks(ref: str, store: SlaStoreDep, _: StaffPrincipal) -> ClockView:
    found = await _ticket_clocks(store, ref)
    now = datetime.now(UTC)
    return ClockView(
        ticket_id=found.ticket_id,
        ref=found.ref,
        priority=found.clocks[0].priority.value,
        targets=[_target_view(clock, found, now=now) for clock in found.clocks],
    )


def _target_view(clock: Clock, found: TicketClocks, *, now: datetime) -> TargetView:
    calendar = found.calendars[clock.calendar_id]
    elapsed = clock.elapsed(calendar, now=now)
    return TargetView(
        target=clock.target.value,
        state=clock.state.value,
        status=agent_status(clock, now=now).value,
        policy_id=clock.policy_id,
        policy_version=clock.policy_version,
        calendar_id=clock.calendar_id,
        started_at=clock.started_at,
        due_at=clock.due_at,
        warning_at=clock.warning_at,
        target_seconds=clock.target_seconds,
        elapsed_seconds=round(elapsed),
        remaining_seconds=round(clock.target_seconds - elapsed),
        breached_at=clock.breached_at,
        stopped_at=clock.stopped_at,
    )


@router.get("/clocks/{ref}/explain", summary="Which stretches of time counted toward each target, and why")
async def explain_clocks(ref: str, store: SlaStoreDep, _: StaffPrincipal) -> ExplainView:
    found = await _ticket_clocks(store, ref)
    now = datetime.now(UTC)
    targets = []
    for clock in found.clocks:
        calendar = found.calendars[clock.calendar_id]
        explanation = explain(clock, calendar, now=now)
        targets.append(
            TargetExplanation(
                target=clock.target.value,
                state=clock.state.value,
                target_seconds=clock.target_seconds,
                counted_seconds=round(explanation.counted_seconds),
                remaining_seconds=round(clock.target_seconds - explanation.counted_seconds),
                truncated=explanation.truncated,
                stretches=[
                    StretchView(
                        start=stretch.start,
                        end=stretch.end,
                        seconds=round(stretch.seconds),
                        counted=stretch.counted,
                        reason=stretch.reason,
                    )
                    for stretch in explanation.stretches
                ],
                history=[ChangeView(at=c.at, change=c.change, detail=c.detail) for c in clock.history],
            )
        )
    calendar_names = sorted({found.calendars[clock.calendar_id].name for clock in found.clocks})
    return ExplainView(
        ticket_id=found.ticket_id, ref=found.ref, calendar=", ".join(calendar_names), targets=targets
    )


@router.get("/at-risk", summary="Running targets due within a window (overdue first), for queue dashboards")
async def at_risk(
    store: SlaStoreDep,
    _: StaffPrincipal,
    within: Annotated[str, Query(description="2h, 30m, 90s, 1d or seconds")] = "2h",
    team: Annotated[str | None, Query(description="Only tickets of this team")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_AT_RISK)] = 100,
) -> AtRiskView:
    try:
        window = duration(within)
    except ValueError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from error
    now = datetime.now(UTC)
    items = [
        AtRiskItem(
            ticket_id=clock.ticket_id,
            ref=clock.ref,
            target=clock.target.value,
            priority=clock.priority.value,
            team=team_of,
            assignee_ids=assignees,
            due_at=clock.due_at,
            seconds_to_due=round((clock.due_at - now).total_seconds()),
            status=agent_status(clock, now=now).value,
        )
        for clock, team_of, assignees in await store.at_risk(until=now + window, team=team, limit=limit)
        if clock.due_at is not None
    ]
    return AtRiskView(within_seconds=int(window.total_seconds()), items=items)
