"""The live queue dashboard: a snapshot route and a Server-Sent Events stream (staff tokens)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from ticketstream.auth import StaffPrincipal
from ticketstream_analytics.dashboard import QueueSnapshot
from ticketstream_analytics.models_queue import QueueDashboardView
from ticketstream_analytics.queue_live import QueueBroadcaster, QueueDashboard

router = APIRouter(prefix="/v1/dashboard", tags=["dashboard"])

RECONNECT_MILLISECONDS = 3000


def get_queue_dashboard(request: Request) -> QueueDashboard:
    dashboard: QueueDashboard = request.app.state.queue_dashboard
    return dashboard


def get_queue_broadcaster(request: Request) -> QueueBroadcaster:
    broadcaster: QueueBroadcaster = request.app.state.queue_broadcaster
    return broadcaster


QueueDashboardDep = Annotated[QueueDashboard, Depends(get_queue_dashboard)]
QueueBroadcasterDep = Annotated[QueueBroadcaster, Depends(get_queue_broadcaster)]
TeamFilter = Annotated[
    str | None,
    Query(min_length=1, max_length=200, description="Only this team's row (and totals of it)"),
]


@router.get("/queue", summary="Open, waiting, at-risk, breached and unassigned tickets, per team")
async def queue_dashboard(
    dashboard: QueueDashboardDep, _: StaffPrincipal, team: TeamFilter = None
) -> QueueDashboardView:
    return QueueDashboardView.of((await dashboard.snapshot()).for_team(team))


@router.get(
    "/queue/stream",
    summary="The queue dashboard as Server-Sent Events",
    description="A `queue` event with the dashboard now, another whenever its numbers change, "
    "and a comment line as heartbeat when nothing changed for a while.",
    response_class=StreamingResponse,
)
async def queue_dashboard_stream(
    request: Request,
    dashboard: QueueDashboardDep,
    broadcaster: QueueBroadcasterDep,
    _: StaffPrincipal,
    team: TeamFilter = None,
) -> StreamingResponse:
    async def events() -> AsyncIterator[str]:
        with broadcaster.listening():
            # Read the sequence before the first snapshot: a change in between is sent again.
            sequence = broadcaster.sequence
            sent = (await dashboard.snapshot()).for_team(team)
            yield f"retry: {RECONNECT_MILLISECONDS}\n\n" + _event(sent, sequence)
            while not await request.is_disconnected():
                published = await broadcaster.next_snapshot(
                    after=sequence, timeout=broadcaster.heartbeat_seconds
                )
                if published is None:
                    yield ": heartbeat\n\n"
                    continue
                sequence, snapshot = published
                view = snapshot.for_team(team)
                if not view.same_numbers(sent):
                    sent = view
                    yield _event(view, sequence)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _event(snapshot: QueueSnapshot, sequence: int) -> str:
    data = QueueDashboardView.of(snapshot).model_dump_json()
    return f"id: {sequence}\nevent: queue\ndata: {data}\n\n"
