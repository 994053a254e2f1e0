"""The analytics read model against the real database: after the first load, after polls that
bring updated and new facts, and after a generation switch, it selects exactly what the
database query selects."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.helpers import settings_from
from ticketstream.db import create_mongo_client
from ticketstream_analytics.facts import FactChange
from ticketstream_analytics.reader import FactReader
from ticketstream_analytics.readmodel import FactIndex
from ticketstream_analytics.reports import TicketFact
from ticketstream_analytics.settings import Settings
from ticketstream_analytics.store import AnalyticsStore

T0 = datetime(2026, 10, 1, tzinfo=UTC)
REFRESH_SECONDS = 0.05
QUERIES: list[dict[str, Any]] = [
    {"created_from": T0, "created_before": T0 + timedelta(days=20), "filters": {}},
    {"created_from": T0 + timedelta(days=5), "created_before": T0 + timedelta(days=9), "filters": {}},
    {"created_from": None, "created_before": T0 + timedelta(days=30), "open_at": T0 + timedelta(days=10)},
    {"created_from": T0, "created_before": T0 + timedelta(days=30), "filters": {"team": "billing"}},
    {"created_from": T0, "created_before": T0 + timedelta(days=30), "filters": {"assignees": "agent-1"}},
]


def snapshot(number: int, *, version: int, resolved: bool, rng: random.Random) -> dict[str, Any]:
    created = T0 + timedelta(minutes=number * 7919 % 43_000)  # spread over about 30 days
    return {
        "v": version,
        "ref": f"TKT-{number}",
        "created_at": created,
        "first_response_at": created + timedelta(minutes=20),
        "resolved_at": created + timedelta(hours=5) if resolved else None,
        "closed_at": None,
        "status": "RESOLVED" if resolved else "OPEN",
        "priority": rng.choice(["LOW", "HIGH"]),
        "team": rng.choice(["billing", "support", None]),
        "assignees": rng.sample(["agent-1", "agent-2"], rng.randrange(3)),
        "category": "refund",
        "tags": [],
        "tier": None,
        "source": "EMAIL",
        "csat_score": None,
        "csat_comment": None,
        "merged_into": None,
    }


def creation(number: int, rng: random.Random) -> FactChange:
    return FactChange(
        ticket_id=f"t-{number}",
        snapshot=snapshot(number, version=1, resolved=False, rng=rng),
        public_replies={f"r-{number}": "agent-1"},
        targets={"first_response": (T0, 3600)},
    )


def ordered(facts: list[TicketFact]) -> list[TicketFact]:
    return sorted(facts, key=lambda f: (f.created_at, f.ticket_id))


async def assert_equal_to_database(index: FactIndex | None, store: AnalyticsStore) -> None:
    assert index is not None
    for query in QUERIES:
        arguments = {"filters": {}, **query}
        from_database = ordered(await store.facts(**arguments))
        assert from_database, query  # every query selects something, so equality means something
        assert index.facts(**arguments) == from_database, query


async def test_the_read_model_follows_the_database_through_polls_and_a_generation_switch(infra_env):
    settings = settings_from(infra_env, Settings)
    client = create_mongo_client(settings)
    rng = random.Random(4)
    try:
        store = AnalyticsStore(client, client[settings.database_name])
        active, _ = await store.generations()
        await store.apply([creation(n, rng) for n in range(400)], generations=[active])
        await store.apply(
            [FactChange(ticket_id="sla-only", breaches={"first_response": T0})], generations=[active]
        )
        reader = FactReader(store, refresh_seconds=REFRESH_SECONDS, overlap_seconds=5)
        assert await reader.current() is None  # not loaded yet: reports read the database
        await reader.load()
        index = await reader.current()
        assert index is not None and len(index) == 400  # the fact without a ticket snapshot is left out
        await assert_equal_to_database(index, store)

        # Updates (resolved, reassigned, an SLA outcome) and new tickets, picked up by a poll.
        updates = [
            FactChange(ticket_id=f"t-{n}", snapshot=snapshot(n, version=2, resolved=True, rng=rng))
            for n in range(0, 400, 3)
        ]
        updates += [FactChange(ticket_id=f"t-{n}", breaches={"first_response": T0}) for n in range(1, 60, 7)]
        updates += [creation(n, rng) for n in range(400, 450)]
        await store.apply(updates, generations=[active])
        await asyncio.sleep(REFRESH_SECONDS * 2)
        index = await reader.current()  # older than the interval: polls before answering
        assert index is not None and len(index) == 450
        resolved, breached = index.get("t-3"), index.get("t-8")
        assert resolved is not None and resolved.resolved_at is not None
        assert breached is not None and breached.breached == {"first_response"}
        await assert_equal_to_database(index, store)

        # A rebuild fills a new generation and switches: the reader drops the old one, then reloads.
        generation = await store.begin_generation()
        await store.apply([creation(n, rng) for n in range(1000, 1100)], generations=[generation])
        await store.open_queue(generation)
        await store.switch_to(generation)
        await asyncio.sleep(REFRESH_SECONDS * 2)
        assert await reader.current() is None
        await reader.refresh()
        index = await reader.current()
        assert index is not None and len(index) == 100 and index.get("t-3") is None
        await assert_equal_to_database(index, store)
    finally:
        await client.close()
