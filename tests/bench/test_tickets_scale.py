"""Benchmark: the agent API of tickets at 100,000 tickets (BENCH_TICKETS overrides the count).

Seeds the tickets collection directly with insert_many (seeding is not what is measured), then
measures through the HTTP API, in process: list (newest page, a status filter, a text search),
get by ref, create and update. Prints p50/p99 and throughput next to the raw database point-read
and transaction rates of the same run. No assertions on time.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.helpers import bearer, eventually, prepare_topics, running, settings_from
from ticketstream.auth import Role
from ticketstream.contracts.models import Person, Priority, Source, TicketStatus
from ticketstream.db import create_mongo_client, ensure_indexes, run_in_transaction
from ticketstream_tickets import domain
from ticketstream_tickets.app import create_app
from ticketstream_tickets.settings import Settings
from ticketstream_tickets.store import COUNTERS, TICKET_REF_COUNTER, TICKETS, ticket_document
from ticketstream_tickets.store_listing import SEARCH_TERMS_BACKFILLED

TICKET_COUNT = int(os.environ.get("BENCH_TICKETS", "100000"))
SEED_BATCH = 2_000
STATUSES = list(TicketStatus)
TEAMS = ["support", "billing", "enterprise", "onboarding"]
WORDS = ["invoice", "login", "export", "printer", "refund", "password", "sso", "webhook", "csv", "billing"]


def seeded_ticket(number: int, now: datetime) -> dict[str, object]:
    rng = random.Random(number)
    request = domain.NewTicket(
        title=f"{rng.choice(WORDS)} problem {number}",
        description=" ".join(rng.choices(WORDS, k=12)),
        source=rng.choice(list(Source)),
        requester=Person(email=f"user{number % 5000}@customer{number % 300}.example"),
        priority=rng.choice(list(Priority)),
        assigned_team=rng.choice(TEAMS),
        assignee_ids=(f"agent{rng.randrange(20)}",) if rng.random() < 0.5 else (),
    )
    created = now - timedelta(minutes=TICKET_COUNT - number)
    ticket = domain.open_ticket(
        request, ticket_id=str(uuid.uuid4()), number=number, customer_id=None, now=created
    )
    return ticket_document(ticket.model_copy(update={"status": rng.choice(STATUSES)}))


async def seed(settings: Settings) -> float:
    client = create_mongo_client(settings)
    database = client[settings.database_name]
    # The service's indexes exist before the data, as in a deployment that grew to this size.
    await ensure_indexes(database, create_app(settings).state.platform.indexes)
    now = datetime.now(UTC)
    started = time.perf_counter()
    for first in range(1, TICKET_COUNT + 1, SEED_BATCH):
        batch = [seeded_ticket(n, now) for n in range(first, min(first + SEED_BATCH, TICKET_COUNT + 1))]
        await database[TICKETS].insert_many(batch, ordered=False)
    await database[COUNTERS].update_one(
        {"_id": TICKET_REF_COUNTER}, {"$set": {"value": TICKET_COUNT}}, upsert=True
    )
    elapsed = time.perf_counter() - started
    await client.close()
    return TICKET_COUNT / elapsed


async def raw_database_rates(settings: Settings) -> tuple[float, float]:
    client = create_mongo_client(settings)
    database = client[settings.database_name]
    numbers = [random.randint(1, TICKET_COUNT) for _ in range(300)]
    started = time.perf_counter()
    for number in numbers:
        await database[TICKETS].find_one({"number": number})
    reads = len(numbers) / (time.perf_counter() - started)

    async def work(session: object) -> None:
        await database["bench_raw"].insert_one({"a": 1}, session=session)  # type: ignore[arg-type]
        await database["bench_raw"].insert_one({"b": 2}, session=session)  # type: ignore[arg-type]

    started = time.perf_counter()
    for _ in range(200):
        await run_in_transaction(client, work)  # type: ignore[arg-type]
    transactions = 200 / (time.perf_counter() - started)
    await client.close()
    return reads, transactions


async def backfill_finished(settings: Settings) -> float:
    """Seconds until the one-time search-term walk that starts with the app has finished, so that
    it does not load the database during the measurements."""
    client = create_mongo_client(settings)
    counters = client[settings.database_name][COUNTERS]
    started = time.perf_counter()
    try:
        await eventually(lambda: counters.find_one({"_id": SEARCH_TERMS_BACKFILLED}), timeout=600)
    finally:
        await client.close()
    return time.perf_counter() - started


async def timed(count: int, action: Callable[[int], Awaitable[httpx.Response]]) -> tuple[list[float], float]:
    latencies = []
    started = time.perf_counter()
    for index in range(count):
        begin = time.perf_counter()
        response = await action(index)
        latencies.append(time.perf_counter() - begin)
        assert response.status_code < 300, response.text
    return sorted(latencies), count / (time.perf_counter() - started)


def percentile(values: list[float], fraction: float) -> float:
    return values[min(int(len(values) * fraction), len(values) - 1)] * 1000


@pytest.mark.timeout(3600)
def test_agent_api_at_scale(infra_env) -> None:
    settings = settings_from(infra_env, Settings, log_level="WARNING")

    async def run() -> list[str]:
        await prepare_topics(settings)
        seed_rate = await seed(settings)
        print(f"  seeded {TICKET_COUNT} tickets", flush=True)
        reads, transactions = await raw_database_rates(settings)
        lines = [
            f"seeded     {TICKET_COUNT} tickets at {seed_rate:,.0f} docs/s (insert_many)",
            f"substrate  raw point reads {reads:,.0f}/s, raw transactions {transactions:,.0f}/s",
        ]
        staff = bearer(settings, Role.MANAGER, sub="mia")
        agent = bearer(settings, Role.AGENT, sub="agent3", teams=["billing"])
        async with running(create_app(settings)) as client:
            backfill_seconds = await backfill_finished(settings)
            lines.append(
                f"backfill   search terms of {TICKET_COUNT} stored tickets: {backfill_seconds:.1f} s (once)"
            )
            print("  search-term backfill finished", flush=True)
            refs = [f"TKT-{random.randint(1, TICKET_COUNT):04d}" for _ in range(100)]
            cases: list[tuple[str, int, Callable[[int], Awaitable[httpx.Response]]]] = [
                ("list newest page", 50, lambda i: client.get("/v1/tickets?limit=50", headers=staff)),
                (
                    "list status=PENDING",
                    20,
                    lambda i: client.get("/v1/tickets?status=PENDING&limit=50", headers=staff),
                ),
                (
                    "list status+priority",
                    20,
                    lambda i: client.get("/v1/tickets?status=OPEN&priority=LOW&limit=50", headers=staff),
                ),
                (
                    "list oldest page",
                    20,
                    lambda i: client.get("/v1/tickets?sort=oldest&limit=50", headers=staff),
                ),
                ("agent queue (1 team)", 20, lambda i: client.get("/v1/tickets?limit=50", headers=agent)),
                (
                    "agent queue, status",
                    20,
                    lambda i: client.get("/v1/tickets?status=OPEN&limit=50", headers=agent),
                ),
                ("search q=refund", 20, lambda i: client.get("/v1/tickets?q=refund&limit=50", headers=staff)),
                (
                    "search two words",
                    20,
                    lambda i: client.get("/v1/tickets?q=refund%20login&limit=50", headers=staff),
                ),
                ("search, no match", 20, lambda i: client.get("/v1/tickets?q=zebra&limit=50", headers=staff)),
                ("get by ref", 100, lambda i: client.get(f"/v1/tickets/{refs[i]}", headers=staff)),
                (
                    "create",
                    100,
                    lambda i: client.post("/v1/tickets", json={"title": f"bench {i}"}, headers=staff),
                ),
            ]
            for name, count, action in cases:
                latencies, rate = await timed(count, action)
                print(f"  measured {name}", flush=True)
                lines.append(
                    f"tickets    {name:<24} p50 {percentile(latencies, 0.5):7.1f} ms  "
                    f"p99 {percentile(latencies, 0.99):7.1f} ms  {rate:7.1f} req/s"
                )
            updated = [f"TKT-{TICKET_COUNT + n:04d}" for n in range(1, 101)]
            latencies, rate = await timed(
                100,
                lambda i: client.patch(
                    f"/v1/tickets/{updated[i]}",
                    json={"priority": "HIGH"},
                    headers={**staff, "If-Match": '"1"'},
                ),
            )
            lines.append(
                f"tickets    {'update (PATCH)':<24} p50 {percentile(latencies, 0.5):7.1f} ms  "
                f"p99 {percentile(latencies, 0.99):7.1f} ms  {rate:7.1f} req/s"
            )
        return lines

    lines = asyncio.run(run())
    print()
    print("\n".join(lines))
    assert len(lines) == 15
