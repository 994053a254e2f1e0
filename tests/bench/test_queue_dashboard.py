"""Benchmark: the live queue dashboard of analytics at 100,000 open tickets (BENCH_QUEUE_TICKETS).

Seeds the queue projection through `QueueStore.bulk_load` (insert_many) (seeding is not what is
measured): every ticket open, spread over five teams and no team, a quarter unassigned, a tenth
waiting on the customer, one running resolution clock each with a due time spread over the next
three days (so about 2.7% fall in the 2-hour window) and a breached first-response clock on 3%.
Then measures GET /v1/dashboard/queue in process (all teams, one team), and the cost of applying
one ticket event and one SLA event through the consumer entry point. Prints p50/p99 next to the
raw database point-read and transaction rates of the same run. No assertions on time.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from tests.bench.test_tickets_scale import percentile
from tests.helpers import bearer, prepare_topics, running, settings_from, ticket_snapshot
from ticketstream.contracts import encode_event, parse_event
from ticketstream.contracts.events import SlaClockStarted, SlaTarget, TicketUpdated
from ticketstream.db import create_mongo_client, ensure_indexes, run_in_transaction
from ticketstream_analytics.app import create_app
from ticketstream_analytics.dashboard import ClockObservation, ClockState, TicketFacts
from ticketstream_analytics.settings import Settings
from ticketstream_analytics.store import AnalyticsStore
from ticketstream_analytics.store_queue import QueueStore

TICKET_COUNT = int(os.environ.get("BENCH_QUEUE_TICKETS", "100000"))
SEED_BATCH = 2_000
TEAMS = ["support", "billing", "enterprise", "onboarding", "emea", None]
RANK_STARTED, RANK_BREACHED = 0, 4


def seeded(number: int, now: datetime) -> tuple[tuple[str, TicketFacts], list[ClockObservation]]:
    rng = random.Random(number)
    ticket_id = f"bench-{number}"
    facts = TicketFacts(
        version=1,
        open=True,
        waiting_on_customer=rng.random() < 0.1,
        unassigned=rng.random() < 0.25,
        team=rng.choice(TEAMS),
    )
    due_at = now + timedelta(seconds=rng.uniform(60, 72 * 3600))
    clocks = [_clock(ticket_id, "resolution", ClockState.RUNNING, due_at, now)]
    if rng.random() < 0.03:
        clocks.append(_clock(ticket_id, "first_response", ClockState.BREACHED, now - timedelta(hours=1), now))
    return (ticket_id, facts), clocks


def _clock(
    ticket_id: str, target: str, state: ClockState, due_at: datetime, now: datetime
) -> ClockObservation:
    return ClockObservation(
        clock_id=f"{ticket_id}:{target}",
        ticket_id=ticket_id,
        target=target,
        state=state,
        due_at=due_at,
        occurred_at=now,
        rank=RANK_BREACHED if state is ClockState.BREACHED else RANK_STARTED,
        event_id=str(uuid.uuid4()),
    )


async def seed(settings: Settings) -> float:
    client = create_mongo_client(settings)
    database = client[settings.database_name]
    await ensure_indexes(database, create_app(settings).state.platform.indexes)
    await AnalyticsStore(client, database).generations()  # the first generation, with its indexes
    store = QueueStore(client, database)
    now = datetime.now(UTC)
    rows = [seeded(n, now) for n in range(TICKET_COUNT)]
    started = time.perf_counter()
    await store.bulk_load(
        tickets=[ticket for ticket, _ in rows],
        clocks=[clock for _, clocks in rows for clock in clocks],
        batch=SEED_BATCH,
    )
    elapsed = time.perf_counter() - started
    await client.close()
    return TICKET_COUNT / elapsed


async def raw_database_rates(settings: Settings) -> tuple[float, float]:
    client = create_mongo_client(settings)
    database = client[settings.database_name]
    started = time.perf_counter()
    for _ in range(300):
        await database["queue_tickets"].find_one({"_id": f"bench-{random.randrange(TICKET_COUNT)}"})
    reads = 300 / (time.perf_counter() - started)

    async def work(session: object) -> None:
        await database["bench_raw"].insert_one({"a": 1}, session=session)  # type: ignore[arg-type]
        await database["bench_raw"].insert_one({"b": 2}, session=session)  # type: ignore[arg-type]

    started = time.perf_counter()
    for _ in range(200):
        await run_in_transaction(client, work)  # type: ignore[arg-type]
    transactions = 200 / (time.perf_counter() - started)
    await client.close()
    return reads, transactions


async def timed(count: int, action: Callable[[int], Awaitable[object]]) -> tuple[list[float], float]:
    latencies = []
    started = time.perf_counter()
    for index in range(count):
        begin = time.perf_counter()
        await action(index)
        latencies.append(time.perf_counter() - begin)
    return sorted(latencies), count / (time.perf_counter() - started)


def _envelopes(count: int, now: datetime) -> tuple[list, list]:
    """Ticket updates (new team, assigned) and clock starts for tickets already in the queue."""
    tickets, clocks = [], []
    for n in range(count):
        snapshot = ticket_snapshot(ref=f"TKT-{n:05d}").model_copy(
            update={"id": f"bench-{n}", "version": 2, "assigned_team": "support", "assignee_ids": ["a"]}
        )
        update = TicketUpdated(
            ticket_id=snapshot.id, ref=snapshot.ref, sequence=2, occurred_at=now, ticket=snapshot
        )
        started = SlaClockStarted(
            ticket_id=snapshot.id,
            ref=snapshot.ref,
            clock_id=f"bench-{n}:next",
            target=SlaTarget.NEXT_RESPONSE,
            policy_id="default-medium",
            priority="MEDIUM",
            due_at=now + timedelta(minutes=30),
            occurred_at=now,
            target_seconds=1800,
        )
        for event, into in ((update, tickets), (started, clocks)):
            message = encode_event(event, service="bench", key=snapshot.id)
            into.append(parse_event(message.headers, message.value))
    return tickets, clocks


@pytest.mark.timeout(3600)
def test_queue_dashboard_at_scale(infra_env) -> None:
    settings = settings_from(infra_env, Settings, log_level="WARNING")

    async def run() -> list[str]:
        await prepare_topics(settings)
        seed_rate = await seed(settings)
        print(f"  seeded {TICKET_COUNT} open tickets", flush=True)
        reads, transactions = await raw_database_rates(settings)
        lines = [
            f"seeded     {TICKET_COUNT} open tickets at {seed_rate:,.0f} tickets/s (insert_many)",
            f"substrate  raw point reads {reads:,.0f}/s, raw transactions {transactions:,.0f}/s",
        ]
        staff = bearer(settings)
        app = create_app(settings)
        async with running(app) as client:
            body = (await client.get("/v1/dashboard/queue", headers=staff)).json()
            lines.append(f"dashboard  totals {body['totals']}")
            for name, url in (
                ("all teams", "/v1/dashboard/queue"),
                ("one team", "/v1/dashboard/queue?team=billing"),
            ):
                latencies, rate = await timed(100, lambda i, url=url: client.get(url, headers=staff))
                lines.append(
                    f"dashboard  {name:<22} p50 {percentile(latencies, 0.5):7.1f} ms  "
                    f"p99 {percentile(latencies, 0.99):7.1f} ms  {rate:7.1f} req/s"
                )
            store = QueueStore(app.state.platform.mongo, app.state.platform.database)
            parts: list[tuple[str, Callable[[int], Awaitable[object]]]] = [
                ("counters read", lambda i: store.counters()),
                ("at-risk slices+edges", lambda i: store.at_risk_counts(now=datetime.now(UTC))),
                ("change mark read", lambda i: store.change_mark()),
            ]
            for name, action in parts:
                latencies, rate = await timed(100, action)
                lines.append(
                    f"store      {name:<22} p50 {percentile(latencies, 0.5):7.1f} ms  "
                    f"p99 {percentile(latencies, 0.99):7.1f} ms"
                )
            tickets, clocks = _envelopes(100, datetime.now(UTC))
            for name, envelopes in (("apply ticket event", tickets), ("apply sla event", clocks)):
                latencies, rate = await timed(len(envelopes), lambda i, e=envelopes: store.apply(e[i]))
                lines.append(
                    f"consumer   {name:<22} p50 {percentile(latencies, 0.5):7.1f} ms  "
                    f"p99 {percentile(latencies, 0.99):7.1f} ms  {rate:7.1f} events/s "
                    f"({rate / transactions:.0%} of raw transactions)"
                )
        return lines

    lines = asyncio.run(run())
    print()
    print("\n".join(lines))
    assert len(lines) == 10
