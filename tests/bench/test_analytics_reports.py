"""Benchmark: analytics report latency at 200,000 tickets, and projection throughput.

- Report latency: seeds BENCH_FACTS (default 200,000) ticket facts spread over a year straight
  into the active generation with insert_many (seeding is not what is measured), starts the
  service and times the cold load of its in-memory read model (and its size), then asks each
  report BENCH_QUERIES times over the default 30-day window and over 7 days, through the HTTP app,
  and finally how long a newly written fact takes to show in a report.
- Projection throughput: a generated history (BENCH_TICKETS tickets, every event twice, shuffled)
  is published while the service runs; events/s is from the first publish until the service's
  consumer group has committed every offset, printed next to the raw broker consume rate.
No assertions on time; figures go to the README.
"""

from __future__ import annotations

import dataclasses
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from tests.analytics_history import delivery_order, generate_history
from tests.bench.substrate import raw_produce_and_consume
from tests.helpers import bearer, eventually, prepare_topics, running, settings_from
from tests.service.test_analytics_reports import _messages_twice_out_of_order, _publish
from ticketstream.auth import Role
from ticketstream.contracts import topics
from ticketstream.db import create_mongo_client
from ticketstream_analytics.app import create_app
from ticketstream_analytics.facts import FactChange
from ticketstream_analytics.handlers import FACT_TOPICS
from ticketstream_analytics.readmodel import FactIndex
from ticketstream_analytics.settings import Settings
from ticketstream_analytics.store import TICKET_FACTS, AnalyticsStore, collection_name

FACTS = int(os.environ.get("BENCH_FACTS", "200000"))
QUERIES = int(os.environ.get("BENCH_QUERIES", "50"))
TICKETS = int(os.environ.get("BENCH_TICKETS", "2000"))
SEED_BATCH = 2_000
END = datetime(2026, 11, 30, tzinfo=UTC)
REPORTS = ["sla", "times", "volume", "backlog", "agents", "csat", "csat/detractors", "notes-ratio"]


def fact_document(rng: random.Random, number: int) -> dict[str, Any]:
    created = END - timedelta(seconds=rng.randrange(365 * 86400))
    answered = created + timedelta(seconds=rng.randrange(1, 20_000)) if rng.random() < 0.9 else None
    resolved = (
        created + timedelta(seconds=rng.randrange(20_000, 200_000))
        if answered and rng.random() < 0.8
        else None
    )
    agents = rng.sample([f"agent-{n}" for n in range(40)], rng.choice([1, 1, 2]))
    return {
        "_id": f"ticket-{number}",
        "created_at": created,
        "snap": {
            "v": 7,
            "ref": f"TKT-{number:07d}",
            "created_at": created,
            "first_response_at": answered,
            "resolved_at": resolved,
            "closed_at": None,
            "status": "RESOLVED" if resolved else "OPEN",
            "priority": rng.choice(["LOW", "MEDIUM", "HIGH", "URGENT"]),
            "team": rng.choice(["support", "billing", "platform", None]),
            "assignees": agents,
            "category": rng.choice(["login", "refund", "outage", "billing", None]),
            "tags": rng.sample(["bug", "vip", "onboarding"], rng.randrange(3)),
            "tier": rng.choice(["gold", "silver", None]),
            "source": rng.choice(["EMAIL", "PORTAL", "CHAT", "API"]),
            "csat_score": rng.randint(1, 5) if resolved and rng.random() < 0.4 else None,
            "csat_comment": None,
            "merged_into": None,
        },
        "replies": {f"r{n}": agents[0] for n in range(rng.randrange(1, 4))},
        "notes": {f"n{n}": agents[-1] for n in range(rng.randrange(3))},
        "customer": {"c0": True},
        "targets": {
            "first_response": {"at": created, "seconds": 3600},
            "resolution": {"at": created, "seconds": 86400},
        },
        "breaches": {"first_response": created} if rng.random() < 0.3 else {},
        "met": {"resolution": created} if rng.random() < 0.5 else {},
    }


async def _seed_facts(settings: Settings) -> float:
    client = create_mongo_client(settings)
    try:
        store = AnalyticsStore(client, client[settings.database_name])
        active, _ = await store.generations()
        collection = client[settings.database_name][collection_name(TICKET_FACTS, active)]
        rng = random.Random(5)
        started = time.perf_counter()
        for start in range(0, FACTS, SEED_BATCH):
            await collection.insert_many(
                [fact_document(rng, n) for n in range(start, min(FACTS, start + SEED_BATCH))]
            )
        return time.perf_counter() - started
    finally:
        await client.close()


def _percentile(samples: list[float], percent: int) -> float:
    ordered = sorted(samples)
    return ordered[max(1, -(-percent * len(ordered) // 100)) - 1]


async def _latencies(client: Any, headers: dict[str, str], path: str, days: int) -> list[float]:
    params = {
        "from": (END - timedelta(days=days)).date().isoformat(),
        "to": (END - timedelta(days=1)).date().isoformat(),
    }
    samples = []
    for _ in range(QUERIES):
        started = time.perf_counter()
        response = await client.get(f"/v1/reports/{path}", params=params, headers=headers)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return samples


def _deep_size(root: object) -> int:
    """Bytes of every object reachable from `root`, each shared object counted once."""
    seen: set[int] = set()
    pending = [root]
    total = 0
    while pending:
        item = pending.pop()
        if id(item) in seen or item is None or isinstance(item, bool | type):
            continue
        seen.add(id(item))
        total += sys.getsizeof(item)
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            pending.extend(item)
        elif dataclasses.is_dataclass(item):
            pending.extend(getattr(item, f.name) for f in dataclasses.fields(item))
        elif hasattr(item, "__dict__") and not isinstance(item, str | int | float):
            pending.extend(vars(item).values())
    return total


def _resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def _visible_after_write(client: Any, headers: dict[str, str], app: Any) -> float:
    """Seconds from writing one new fact until the volume report counts it."""
    params = {
        "from": (END - timedelta(days=1)).date().isoformat(),
        "to": (END - timedelta(days=1)).date().isoformat(),
    }

    async def total() -> int:
        response = await client.get("/v1/reports/volume", params=params, headers=headers)
        return int(response.json()["total"])

    before = await total()
    snapshot = fact_document(random.Random(1), FACTS + 1)["snap"] | {"created_at": END - timedelta(hours=1)}
    store = app.state.analytics_store
    active, _ = await store.generations()
    started = time.perf_counter()
    await store.apply([FactChange(ticket_id="fresh-ticket", snapshot=snapshot)], generations=[active])
    await eventually(lambda: _counted(total, before + 1), timeout=60, interval=0.01)
    return time.perf_counter() - started


async def _counted(total: Any, expected: int) -> bool:
    return bool(await total() == expected)


@pytest.mark.timeout(3600)
async def test_report_latency_at_200k_tickets(infra_env):
    settings = settings_from(infra_env, Settings)
    await prepare_topics(settings)
    seeded_in = await _seed_facts(settings)
    print(f"\nseeded {FACTS} ticket facts in {seeded_in:.0f} s ({FACTS / seeded_in:.0f} docs/s)")
    headers = bearer(settings, role=Role.MANAGER, sub="maria")
    app = create_app(settings)
    resident_before = _resident_bytes()
    started = time.perf_counter()
    async with running(app) as client:
        reader = app.state.fact_reader
        index: FactIndex = await eventually(reader.current, timeout=1800, interval=0.2)
        loaded_in = time.perf_counter() - started
        size, resident = _deep_size(index), _resident_bytes() - resident_before
        print(
            f"read model: {len(index)} facts loaded in {loaded_in:.1f} s; per ticket {size / len(index):.0f}"
            f" bytes by object sizes, {resident / len(index):.0f} bytes by resident memory growth"
        )
        for days in (30, 7):
            for path in REPORTS:
                samples = await _latencies(client, headers, path, days)
                print(
                    f"{days:>2}-day window  {path:<16} p50 {statistics.median(samples):7.1f} ms"
                    f"   p99 {_percentile(samples, 99):7.1f} ms   ({QUERIES} queries)"
                )
        lag = await _visible_after_write(client, headers, app)
        print(f"a newly written fact showed in a report after {lag:.2f} s")


async def _committed_everything(settings: Settings) -> bool:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, group_id=settings.consumer_group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(settings.topic(topic), p)
            for topic in FACT_TOPICS
            for p in range(settings.topic_partitions)
        ]
        ends = await consumer.end_offsets(partitions)
        committed = [await consumer.committed(p) for p in partitions]
        return all((c or 0) >= ends[p] for c, p in zip(committed, partitions, strict=True))
    finally:
        await consumer.stop()


@pytest.mark.timeout(3600)
async def test_projection_throughput_against_raw_consume(infra_env):
    settings = settings_from(infra_env, Settings)
    await prepare_topics(settings)
    _, raw_consume = await raw_produce_and_consume(settings.kafka_bootstrap)
    messages = _messages_twice_out_of_order(delivery_order(generate_history(TICKETS, seed=3), seed=4))
    assert {m.topic for m in messages} == {topics.TICKETS, topics.SLA}
    async with running(create_app(settings)):
        started = time.perf_counter()
        await _publish(settings, messages)
        await eventually(lambda: _committed_everything(settings), timeout=900, interval=0.2)
        rate = len(messages) / (time.perf_counter() - started)
    print(
        f"\nprojection: {len(messages)} events ({TICKETS} tickets, each event twice) at {rate:.0f} events/s;"
        f" raw broker consume {raw_consume:.0f} msg/s; ratio {rate / raw_consume:.1%}"
    )
