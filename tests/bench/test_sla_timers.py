"""Benchmark: SLA timers with 100,000 running clocks (BENCH_CLOCKS overrides the count).

Seeds running clocks and their timers directly with insert_many (seeding is not what is measured),
far in the future, so the timer loop works against a realistic index. Then, with the sla service
running in process:
- steady firing: BENCH_RATE timers per second fall due for BENCH_SECONDS seconds; lateness is the
  time from each due instant to the Kafka timestamp of its sla.breached record (end to end:
  timer, transaction, outbox, broker);
- CPU of the service process per 1,000 timers fired (the CPU of an equally long idle window with
  the same clocks loaded is subtracted);
- catch-up: timers that fell due while no replica ran, from the restart until the last is out.
Prints figures next to the raw database transaction rate of the same run. No assertions on time.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from tests.helpers import prepare_topics, running, settings_from
from ticketstream.contracts import parse_event, topics
from ticketstream.contracts.events import SlaBreached, SlaTarget
from ticketstream.contracts.models import Priority
from ticketstream.db import create_mongo_client, ensure_indexes, run_in_transaction
from ticketstream_sla import clocks
from ticketstream_sla.app import create_app
from ticketstream_sla.calendars import built_in
from ticketstream_sla.documents import clock_document, timer_document
from ticketstream_sla.settings import Settings
from ticketstream_sla.store_firing import CLOCKS, TIMERS
from ticketstream_sla.timers import clock_timer, shard_of

CLOCK_COUNT = int(os.environ.get("BENCH_CLOCKS", "100000"))
RATE = int(os.environ.get("BENCH_RATE", "100"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "20"))
CATCH_UP = 500
SEED_BATCH = 2_000
LEAD = timedelta(seconds=12)  # time to insert the firing set before its first timer is due


def running_clock(ticket: str, *, due: datetime, target_seconds: int) -> clocks.Clock:
    """A clock whose next timer is its breach at `due` (its warning already given)."""
    clock = clocks.start_clock(
        ticket_id=ticket,
        ref=f"TKT-{ticket[:8]}",
        target=SlaTarget.FIRST_RESPONSE,
        policy_id="default-urgent",
        policy_version=1,
        priority=Priority.URGENT,
        target_seconds=target_seconds,
        warning_fraction=0.75,
        calendar=built_in(),
        now=due - timedelta(seconds=target_seconds),
    )
    return replace(clock, warned=True, warning_at=None)


def documents(clock: clocks.Clock, shards: int) -> tuple[dict[str, object], dict[str, object]]:
    timer = clock_timer(clock)
    assert timer is not None
    return clock_document(clock, team="support", assignee_ids=[]), timer_document(
        timer, shard=shard_of(clock.ticket_id, shards)
    )


async def insert(settings: Settings, due_times: list[datetime], *, target_seconds: int) -> None:
    client = create_mongo_client(settings)
    database = client[settings.database_name]
    for first in range(0, len(due_times), SEED_BATCH):
        pairs = [
            documents(
                running_clock(str(uuid.uuid4()), due=due, target_seconds=target_seconds),
                settings.sla_timer_shards,
            )
            for due in due_times[first : first + SEED_BATCH]
        ]
        await database[CLOCKS].insert_many([clock for clock, _ in pairs], ordered=False)
        await database[TIMERS].insert_many([timer for _, timer in pairs], ordered=False)
    await client.close()


async def raw_transactions(settings: Settings) -> float:
    client = create_mongo_client(settings)
    database = client[settings.database_name]

    async def work(session: object) -> None:
        await database["bench_raw"].insert_one({"a": 1}, session=session)  # type: ignore[arg-type]
        await database["bench_raw"].insert_one({"b": 2}, session=session)  # type: ignore[arg-type]

    started = time.perf_counter()
    for _ in range(200):
        await run_in_transaction(client, work)  # type: ignore[arg-type]
    rate = 200 / (time.perf_counter() - started)
    await client.close()
    return rate


async def breaches(settings: Settings, *, expected: int, timeout: float) -> list[tuple[float, float]]:
    """(due, published) epoch seconds of the first `expected` distinct sla.breached records."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    topic = settings.topic(topics.SLA)
    seen: dict[str, tuple[float, float]] = {}
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        while not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        consumer.assign([TopicPartition(topic, p) for p in partitions])
        await consumer.seek_to_beginning()
        deadline = time.monotonic() + timeout
        while len(seen) < expected and time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=500, max_records=5000)).values():
                for record in batch:
                    envelope = parse_event(dict(record.headers), record.value or b"")
                    if isinstance(envelope.data, SlaBreached):
                        seen[envelope.id] = (envelope.data.occurred_at.timestamp(), record.timestamp / 1000)
    finally:
        await consumer.stop()
    return list(seen.values())


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * fraction), len(ordered) - 1)]


def lateness_line(name: str, pairs: list[tuple[float, float]]) -> str:
    late = [max(published - due, 0.0) * 1000 for due, published in pairs]
    return (
        f"sla        {name:<30} {len(pairs):6d} timers  lateness p50 {percentile(late, 0.5):6.0f} ms  "
        f"p99 {percentile(late, 0.99):6.0f} ms  max {max(late):6.0f} ms"
    )


@pytest.mark.timeout(3600)
def test_sla_timers_at_scale(infra_env) -> None:
    settings = settings_from(infra_env, Settings, log_level="WARNING")

    async def run() -> list[str]:
        await prepare_topics(settings)
        client = create_mongo_client(settings)
        await ensure_indexes(client[settings.database_name], create_app(settings).state.platform.indexes)
        await client.close()
        now = datetime.now(UTC)
        started = time.perf_counter()
        rng = random.Random(7)
        future = [now + timedelta(hours=1, seconds=rng.uniform(0, 47 * 3600)) for _ in range(CLOCK_COUNT)]
        await insert(settings, future, target_seconds=48 * 3600)
        seed_rate = CLOCK_COUNT / (time.perf_counter() - started)
        transactions = await raw_transactions(settings)
        lines = [
            f"seeded     {CLOCK_COUNT} running clocks and timers at {seed_rate:,.0f} clocks/s (insert_many)",
            f"substrate  raw transactions {transactions:,.0f}/s",
        ]
        print(f"  seeded {CLOCK_COUNT} clocks", flush=True)
        fired = RATE * SECONDS
        async with running(create_app(settings)):
            idle_started = time.process_time()
            await asyncio.sleep(SECONDS)
            idle_cpu = time.process_time() - idle_started
            first_due = datetime.now(UTC) + LEAD
            due_times = [first_due + timedelta(seconds=index / RATE) for index in range(fired)]
            await insert(settings, due_times, target_seconds=3600)
            await asyncio.sleep(max((first_due - datetime.now(UTC)).total_seconds(), 0))
            busy_started = time.process_time()
            await asyncio.sleep(SECONDS)
            busy_cpu = time.process_time() - busy_started
            steady = await breaches(settings, expected=fired, timeout=120)
        lines.append(lateness_line(f"steady {RATE}/s for {SECONDS} s", steady))
        cpu_per_thousand = max(busy_cpu - idle_cpu, 0.0) / max(len(steady), 1) * 1000
        lines.append(
            f"sla        service CPU per 1,000 timers {cpu_per_thousand:6.2f} s "
            f"(idle {idle_cpu / SECONDS * 100:.0f}% of a core with {CLOCK_COUNT} clocks loaded)"
        )
        print("  measured steady firing", flush=True)

        due_soon = datetime.now(UTC) + timedelta(seconds=2)
        await insert(
            settings,
            [due_soon + timedelta(milliseconds=index) for index in range(CATCH_UP)],
            target_seconds=3600,
        )
        await asyncio.sleep(4)  # all of them fall due while no replica runs
        restarted = time.time()
        app = create_app(settings)
        connected: list[float] = []

        async def note_connected() -> None:
            await app.state.platform.connected.wait()
            connected.append(time.time())

        watcher = asyncio.create_task(note_connected())
        async with running(app):
            pairs = await breaches(settings, expected=fired + CATCH_UP, timeout=120)
        await watcher
        caught_up = [pair for pair in pairs if pair[0] >= due_soon.timestamp() - 0.001]
        last = max(published for _, published in caught_up)
        lines.append(
            f"sla        catch-up after a restart        {len(caught_up):6d} timers  "
            f"all out {last - connected[0]:5.1f} s after the service connected "
            f"({last - restarted:.1f} s after the process start)"
        )
        return lines

    lines = asyncio.run(run())
    print("\n" + "\n".join(lines))
