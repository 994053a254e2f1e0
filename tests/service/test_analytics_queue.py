"""The live queue dashboard of analytics against the real broker and database.

Ticket and SLA events arrive duplicated and out of order, as at-least-once delivery over two
topics allows; the dashboard must show exactly the state the newest versions describe.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import uvicorn
from fastapi import FastAPI

from tests.helpers import (
    bearer,
    eventually,
    prepare_topics,
    publish_events,
    running,
    settings_from,
    ticket_snapshot,
)
from ticketstream.auth import Role
from ticketstream.contracts import encode_event, parse_event
from ticketstream.contracts.events import (
    SlaBreached,
    SlaClockPaused,
    SlaClockRetargeted,
    SlaClockStarted,
    SlaMet,
    SlaTarget,
    TicketCreated,
    TicketUpdated,
)
from ticketstream.db import create_mongo_client
from ticketstream.devstack.processes import free_port
from ticketstream_analytics.app import create_app
from ticketstream_analytics.rebuild import rebuild
from ticketstream_analytics.settings import Settings
from ticketstream_analytics.store_queue import QueueStore

NUMBERS = ("open", "waiting_on_customer", "at_risk", "breached", "unassigned")


def _version(ticket, version: int, **changes):
    """The ticket as of `version`, and the event announcing it."""
    snapshot = ticket.model_validate({**ticket.model_dump(), **changes, "version": version})
    kind = TicketCreated if version == 1 else TicketUpdated
    return kind(
        ticket_id=snapshot.id,
        ref=snapshot.ref,
        sequence=version,
        actor="system",
        occurred_at=snapshot.updated_at,
        ticket=snapshot,
    )


def _clock(kind, ticket, clock_id: str, *, at: datetime, due_at: datetime | None):
    extra = {"target_seconds": 3600} if kind in (SlaClockStarted, SlaClockRetargeted) else {}
    return kind(
        ticket_id=ticket.id,
        ref=ticket.ref,
        clock_id=clock_id,
        target=SlaTarget.RESOLUTION,
        policy_id="default-medium",
        priority="MEDIUM",
        due_at=due_at,
        occurred_at=at,
        **extra,
    )


def _row(team, **numbers):
    return {"team": team, **{name: numbers.get(name, 0) for name in NUMBERS}}


def _history(now: datetime):
    """Ticket and SLA events of eight tickets, some duplicated or out of order: (ticket events,
    their ids, SLA events, their ids, the dashboard rows they must give)."""
    waiting = ticket_snapshot(ref="TKT-0001").model_copy(update={"assigned_team": "support"})
    resolved = ticket_snapshot(ref="TKT-0002").model_copy(update={"assigned_team": "billing"})
    teamless = ticket_snapshot(ref="TKT-0003")
    urgent = ticket_snapshot(ref="TKT-0004").model_copy(
        update={"assigned_team": "support", "assignee_ids": ["bob"]}
    )
    overdue = ticket_snapshot(ref="TKT-0005").model_copy(
        update={"assigned_team": "support", "assignee_ids": ["bob"]}
    )
    answered = ticket_snapshot(ref="TKT-0006").model_copy(update={"assigned_team": "billing"})
    finished = ticket_snapshot(ref="TKT-0007").model_copy(update={"assigned_team": "billing"})
    moved = ticket_snapshot(ref="TKT-0008").model_copy(update={"assigned_team": "billing"})
    ticket_events = [
        _version(waiting, 3, status="WAITING_ON_CUSTOMER", assignee_ids=["alice"]),
        _version(waiting, 1),
        _version(waiting, 2, assignee_ids=["alice"]),
        _version(waiting, 3, status="WAITING_ON_CUSTOMER", assignee_ids=["alice"]),  # a new id
        _version(resolved, 2, status="RESOLVED"),
        _version(resolved, 1),
        _version(teamless, 1),
        _version(teamless, 1),
        _version(urgent, 1),
        _version(overdue, 1),
        _version(answered, 1),
        _version(finished, 1),
        _version(finished, 2, status="RESOLVED"),
        _version(moved, 2, assigned_team="support", assignee_ids=["carla"]),
        _version(moved, 1),
    ]
    ticket_ids = [f"tk{n}" for n in range(len(ticket_events))]
    ticket_ids[7] = ticket_ids[6]  # the same event delivered twice
    later = now + timedelta(seconds=1)
    sla_events = [
        # started and paused in one reaction: same moment, the pause wins, delivered first.
        _clock(SlaClockPaused, waiting, "c1", at=now, due_at=None),
        _clock(SlaClockStarted, waiting, "c1", at=now, due_at=now + timedelta(minutes=30)),
        # retargeted into the window, delivered before the start that was outside it.
        _clock(SlaClockRetargeted, teamless, "c3", at=later, due_at=now + timedelta(minutes=90)),
        _clock(SlaClockStarted, teamless, "c3", at=now, due_at=now + timedelta(hours=3)),
        _clock(SlaClockStarted, urgent, "c4a", at=now, due_at=now + timedelta(hours=1)),
        _clock(SlaClockStarted, urgent, "c4b", at=now - timedelta(hours=2), due_at=now - timedelta(hours=1)),
        _clock(SlaBreached, urgent, "c4b", at=now - timedelta(hours=1), due_at=now - timedelta(hours=1)),
        _clock(SlaBreached, resolved, "c2", at=now, due_at=now),
        _clock(SlaClockStarted, overdue, "c5", at=now, due_at=now - timedelta(minutes=10)),
        _clock(SlaMet, answered, "c6", at=later, due_at=now + timedelta(hours=1)),
        _clock(SlaClockStarted, answered, "c6", at=now, due_at=now + timedelta(hours=1)),
        # at risk while open, then resolved (the clock's met event is yet to come)
        _clock(SlaClockStarted, finished, "c7", at=now, due_at=now + timedelta(minutes=45)),
        # at risk, and moved from billing to support
        _clock(SlaClockStarted, moved, "c8", at=now, due_at=now + timedelta(minutes=20)),
    ]
    sla_ids = [f"sl{n}" for n in range(len(sla_events))]
    expected_teams = [
        _row("billing", open=1, unassigned=1),
        _row("support", open=4, waiting_on_customer=1, at_risk=2, breached=1),
        _row(None, open=1, at_risk=1, unassigned=1),
    ]
    return ticket_events, ticket_ids, sla_events, sla_ids, expected_teams


async def test_the_dashboard_counts_the_newest_state_whatever_the_order_and_duplicates(infra_env):
    settings = settings_from(infra_env, Settings)
    await prepare_topics(settings)
    ticket_events, ticket_ids, sla_events, sla_ids, expected_teams = _history(datetime.now(UTC))
    async with running(create_app(settings)) as client:
        headers = bearer(settings)
        await publish_events(settings, ticket_events + sla_events, event_ids=ticket_ids + sla_ids)
        await publish_events(settings, sla_events[:3], event_ids=sla_ids[:3])  # redelivered

        async def dashboard_settled():
            body = (await client.get("/v1/dashboard/queue", headers=headers)).json()
            return body if body["teams"] == expected_teams else None

        dashboard = await eventually(dashboard_settled)
        support = (await client.get("/v1/dashboard/queue?team=support", headers=headers)).json()
        empty = (await client.get("/v1/dashboard/queue?team=nobody", headers=headers)).json()
        blank = await client.get("/v1/dashboard/queue?team=", headers=headers)
        customer = await client.get("/v1/dashboard/queue", headers=bearer(settings, Role.CUSTOMER))
        anonymous = await client.get("/v1/dashboard/queue")
    assert dashboard["totals"] == {
        "open": 6,
        "waiting_on_customer": 1,
        "at_risk": 3,
        "breached": 1,
        "unassigned": 2,
    }
    assert dashboard["at_risk_window_seconds"] == 7200
    assert abs(datetime.fromisoformat(dashboard["as_of"]) - datetime.now(UTC)) < timedelta(minutes=5)
    assert support["teams"] == [expected_teams[1]]
    assert support["totals"] == {name: expected_teams[1][name] for name in NUMBERS}
    assert empty["teams"] == [_row("nobody")]
    assert blank.status_code == 422
    assert customer.status_code == 404
    assert anonymous.status_code == 401


async def test_a_rebuild_from_the_log_restores_a_damaged_dashboard_and_counts_what_arrives_meanwhile(
    infra_env,
):
    settings = settings_from(infra_env, Settings, analytics_rebuild_idle_ms=1500)
    await prepare_topics(settings)
    ticket_events, ticket_ids, sla_events, sla_ids, expected_teams = _history(datetime.now(UTC))
    late = ticket_snapshot(ref="TKT-0009").model_copy(update={"assigned_team": "billing"})
    app = create_app(settings)
    async with running(app) as client:
        headers = bearer(settings)
        await publish_events(settings, ticket_events + sla_events, event_ids=ticket_ids + sla_ids)

        async def dashboard_shows(teams):
            body = (await client.get("/v1/dashboard/queue", headers=headers)).json()
            return body if body["teams"] == teams else None

        await eventually(lambda: dashboard_shows(expected_teams))
        store = app.state.analytics_store
        before, _ = await store.generations()
        database = app.state.platform.database
        await database[f"queue_counters_{before}"].delete_many({})  # a damaged projection
        await database["queue_clocks_gleftover"].insert_one({"_id": "x"})  # left by a crash
        damaged = (await client.get("/v1/dashboard/queue", headers=headers)).json()
        claims = {"consumer": f"analytics-queue-{before}"}
        claims_before = await database["inbox"].count_documents(claims)
        rebuilding = asyncio.create_task(rebuild(settings))
        await publish_events(settings, [_version(late, 1)])  # live while the rebuild runs
        outcome = await rebuilding
        with_late = [_row("billing", open=2, unassigned=2), *expected_teams[1:]]
        rebuilt = await eventually(lambda: dashboard_shows(with_late))
        after, building = await store.generations()
        left = set(await database.list_collection_names())
        claims_after = await database["inbox"].count_documents(claims)
    assert [row for row in damaged["teams"] if row["open"]] == []
    assert claims_before > 0 and claims_after == 0, "the old generation's inbox claims go with it"
    assert "queue_clocks_gleftover" not in left
    assert (outcome.replaced, outcome.generation) == (before, after) and building is None
    assert rebuilt["totals"]["open"] == 7
    assert not {name for name in left if name.endswith(f"_{before}")}, "the old generation is dropped"
    assert {f"queue_tickets_{after}", f"queue_counters_{after}", f"ticket_facts_{after}"} <= left


@contextlib.asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    """Serve an app whose lifespan already runs over real HTTP (streams need a real socket)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_config=None, access_log=False)
    )
    task = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: _true(server.started))
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def _true(value: bool) -> bool:
    return value


class EventReader:
    """Reads one Server-Sent Events response: `queue` events as JSON, heartbeats counted."""

    def __init__(self, response: httpx.Response) -> None:
        self._lines = response.aiter_lines()
        self.heartbeats = 0
        self.retry: str | None = None

    async def next_queue_event(self) -> tuple[str, dict]:
        fields: dict[str, str] = {}
        async for line in self._lines:
            if line.startswith(":"):
                self.heartbeats += 1
            elif line.startswith("retry:"):
                self.retry = line.removeprefix("retry:").strip()
            elif line == "":
                if fields.get("event") == "queue":
                    return fields["id"], json.loads(fields["data"])
                fields = {}
            else:
                name, _, value = line.partition(":")
                fields[name] = value.strip()
        raise AssertionError("the stream ended")

    async def until_heartbeat(self) -> None:
        async for line in self._lines:
            if line.startswith(":"):
                self.heartbeats += 1
                return


async def test_the_dashboard_stream_sends_a_snapshot_then_each_change(infra_env):
    settings = settings_from(infra_env, Settings, queue_stream_poll_ms=50, queue_stream_heartbeat_seconds=0.2)
    await prepare_topics(settings)
    first = ticket_snapshot(ref="TKT-0010").model_copy(update={"assigned_team": "billing"})
    second = ticket_snapshot(ref="TKT-0011").model_copy(update={"assigned_team": "billing"})
    other = ticket_snapshot(ref="TKT-0012").model_copy(update={"assigned_team": "support"})
    app = create_app(settings)
    async with running(app) as client, serving(app) as url:
        await publish_events(settings, [_version(first, 1)])
        await eventually(
            lambda: _has_open(client, settings, expected=1),
        )
        stream_url = f"{url}/v1/dashboard/queue/stream?team=billing"
        async with (
            httpx.AsyncClient(timeout=20) as http,
            http.stream("GET", stream_url, headers=bearer(settings)) as response,
        ):
            reader = EventReader(response)
            initial_id, initial = await reader.next_queue_event()
            await reader.until_heartbeat()
            await publish_events(settings, [_version(other, 1)])  # another team: no event for billing
            await publish_events(settings, [_version(second, 1)])
            update_id, update = await reader.next_queue_event()
            # Another replica's consumer writes through its own connection; the stream sees it.
            await _apply_as_another_replica(settings, _version(second, 2, status="CLOSED"))
            _, after_close = await reader.next_queue_event()
            content_type = response.headers["content-type"]
        broadcaster = app.state.queue_broadcaster
        listeners_after_disconnect = await eventually(lambda: _true(broadcaster.listeners == 0))
        bad_stream = await client.get("/v1/dashboard/queue/stream?team=", headers=bearer(settings))
    assert content_type.startswith("text/event-stream")
    assert reader.retry == "3000"
    assert initial["teams"] == [_row("billing", open=1, unassigned=1)]
    assert update["teams"] == [_row("billing", open=2, unassigned=2)]
    assert update["totals"]["open"] == 2
    assert after_close["teams"] == [_row("billing", open=1, unassigned=1)]
    assert int(update_id) > int(initial_id)
    assert reader.heartbeats >= 1
    assert listeners_after_disconnect is True
    assert bad_stream.status_code == 422


async def _apply_as_another_replica(settings: Settings, event) -> None:
    client = create_mongo_client(settings)
    try:
        message = encode_event(event, service="tickets", key=event.ticket_id)
        store = QueueStore(client, client[settings.database_name])
        assert await store.apply(parse_event(message.headers, message.value)) is True
    finally:
        await client.close()


async def _has_open(client: httpx.AsyncClient, settings: Settings, *, expected: int) -> bool:
    body = (await client.get("/v1/dashboard/queue", headers=bearer(settings))).json()
    return bool(body["totals"]["open"] == expected)
