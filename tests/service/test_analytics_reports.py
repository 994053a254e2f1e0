"""analytics against the real broker and database: a generated history of 10,000 tickets, every
event delivered twice and out of order, must give exactly the reports computed independently
from the same history; a rebuild from the log must give them again."""

from __future__ import annotations

import asyncio
import csv
import io
import time
import uuid
from datetime import date, timedelta
from typing import Any

import pytest

from tests import analytics_expected as expected
from tests.analytics_history import BASE, SPAN_DAYS, TicketTruth, delivery_order, generate_history
from tests.helpers import bearer, eventually, prepare_topics, running, settings_from
from ticketstream.auth import Role
from ticketstream.broker import EventProducer
from ticketstream.contracts import encode_event
from ticketstream_analytics.app import create_app
from ticketstream_analytics.rebuild import rebuild
from ticketstream_analytics.settings import Settings

TICKETS = 10_000
PUBLISH_CHUNK = 5_000
FIRST = BASE.date()
LAST = (BASE + timedelta(days=SPAN_DAYS)).date()

SCOPES = [
    expected.Scope(FIRST, LAST),
    expected.Scope(date(2026, 9, 10), date(2026, 10, 9), tz="America/New_York"),
    expected.Scope(FIRST, LAST, tz="Asia/Kolkata", team="billing", priority="HIGH"),
]
SINGLE_FILTERS = [
    {"agent": "agent-3"},
    {"category": "refund"},
    {"tier": "gold"},
    {"source": "CHAT"},
]


def _messages_twice_out_of_order(order: list[Any]) -> list[Any]:
    ids: dict[int, str] = {}
    return [
        encode_event(
            event,
            service="test",
            key=event.ticket_id,
            subject=event.ref,
            event_id=ids.setdefault(id(event), str(uuid.uuid4())),
        )
        for event in order
    ]


async def _publish(settings: Settings, messages: list[Any]) -> None:
    producer = EventProducer(settings)
    await producer.start()
    try:
        for start in range(0, len(messages), PUBLISH_CHUNK):
            chunk = messages[start : start + PUBLISH_CHUNK]
            assert await producer.publish_batch(chunk) == [None] * len(chunk)
            await asyncio.sleep(0)
    finally:
        await producer.stop()


Answer = tuple[str, dict[str, str], Any]  # report path, query, expected body


def _scope_answers(truths: list[TicketTruth], scope: expected.Scope) -> list[Answer]:
    """Every report over one scope."""
    params = scope.params()
    return [
        ("sla", params, expected.sla(truths, scope)),
        ("times", params, expected.times(truths, scope)),
        *[
            ("volume", {**params, "interval": i}, expected.volume(truths, scope, i))
            for i in ("day", "week", "month")
        ],
        ("backlog", params, expected.backlog(truths, scope)),
        ("agents", params, expected.agents(truths, scope)),
        ("csat", params, expected.csat(truths, scope)),
        ("notes-ratio", params, expected.notes_ratio(truths, scope)),
        ("csat/detractors", params, expected.detractor_refs(truths, scope)),
    ]


def _expected_answers(truths: list[TicketTruth]) -> list[Answer]:
    """Every report over each scope, and the SLA and agent reports under each single filter."""
    answers = [answer for scope in SCOPES for answer in _scope_answers(truths, scope)]
    for filters in SINGLE_FILTERS:
        scope = expected.Scope(FIRST, LAST, **filters)
        answers += [
            ("sla", scope.params(), expected.sla(truths, scope)),
            ("agents", scope.params(), expected.agents(truths, scope)),
        ]
    return answers


async def _report(client: Any, headers: dict[str, str], path: str, params: dict[str, str]) -> Any:
    response = await client.get(f"/v1/reports/{path}", params=params, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    return [(i["ref"], i["score"]) for i in body["items"]] if path == "csat/detractors" else body


async def _check_every_report(client: Any, headers: dict[str, str], answers: list[Any]) -> None:
    for path, params, answer in answers:
        assert await _report(client, headers, path, params) == answer, (path, params)


async def _check_input_errors_and_csv(client: Any, settings: Settings, truths: list[TicketTruth]) -> None:
    staff = bearer(settings)
    scope = SCOPES[0]
    response = await client.get(
        "/v1/reports/volume",
        params={**scope.params(), "interval": "month"},
        headers={**staff, "Accept": "text/csv"},
    )
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert rows[0]["section"] == "summary" and int(rows[0]["total"]) == len(scope.select(truths))
    buckets = [row for row in rows if row["section"] == "buckets"]
    assert [int(row["created"]) for row in buckets] == [
        b["created"] for b in expected.volume(truths, scope, "month")["buckets"]
    ]
    bad = [
        {"tz": "Mars/Olympus"},
        {"priority": "SOMEDAY"},
        {"source": "PIGEON"},
        {"from": "2026-10-02", "to": "2026-10-01"},
        {"from": "2020-01-01", "to": "2026-01-01"},
        {"from": "yesterday"},
    ]
    for params in bad:
        answer = await client.get("/v1/reports/sla", params=params, headers=staff)
        assert answer.status_code == 422, params
        assert answer.json()["error"]["message"]
    assert (await client.get("/v1/reports/sla")).status_code == 401
    customer = bearer(settings, role=Role.CUSTOMER, sub="kim", email="kim@example.com")
    assert (
        await client.get("/v1/reports/sla", headers=customer)
    ).status_code == 404  # customers do not learn the route exists


@pytest.mark.timeout(900)  # 10,000 tickets, twice through the broker, plus a full rebuild
async def test_reports_match_an_independent_computation_and_survive_a_rebuild(infra_env):
    started = time.monotonic()
    settings = settings_from(infra_env, Settings)
    await prepare_topics(settings)
    # Everything CPU-heavy happens before the service runs, so it cannot starve its consumer.
    histories = generate_history(TICKETS, seed=2026)
    truths = [history.truth for history in histories]
    messages = _messages_twice_out_of_order(delivery_order(histories, seed=11))
    assert len(messages) == 2 * sum(len(h.events) for h in histories)
    answers = _expected_answers(truths)
    unfiltered = _scope_answers(truths, SCOPES[0])
    print(f"\nhistory generated and expected reports computed in {time.monotonic() - started:.0f} s")
    sla_path, full_params, full_sla = answers[0]
    headers = bearer(settings, role=Role.MANAGER, sub="maria")
    async with running(create_app(settings)) as client:
        await _publish(settings, messages)

        async def caught_up() -> bool:
            return await _report(client, headers, sla_path, full_params) == full_sla

        await eventually(caught_up, timeout=600, interval=2)
        print(f"\nprojected {len(messages)} events after {time.monotonic() - started:.0f} s")
        await _check_every_report(client, headers, answers)
        reader = client._transport.app.state.fact_reader  # type: ignore[attr-defined]
        assert await reader.current() is not None  # those answers came from the in-memory facts
        await _check_input_errors_and_csv(client, settings, truths)
        print(f"reports checked after {time.monotonic() - started:.0f} s")

        store = client._transport.app.state.analytics_store  # type: ignore[attr-defined]
        before, _ = await store.generations()
        rebuilding = asyncio.create_task(rebuild(settings))
        during = []
        while not rebuilding.done():  # reports keep answering from the active generation
            during.append(await _report(client, headers, sla_path, full_params) == full_sla)
            await asyncio.sleep(3)
        outcome = await rebuilding
        print(f"rebuilt in {outcome.seconds:.0f} s, after {time.monotonic() - started:.0f} s")
        after, building = await store.generations()
        assert during and all(during)
        assert (outcome.replaced, outcome.generation) == (before, after) and building is None
        assert outcome.events == len(messages)
        # Every report of the unfiltered range again, now from the rebuilt generation.
        await _check_every_report(client, headers, unfiltered)
