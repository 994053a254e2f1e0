"""`ticketstream replay analytics`: rebuild every projection from offset 0, then switch over.

The rebuild fills a new generation of every projection (the ticket facts and the queue
dashboard's) while reports and the dashboard keep reading the active one, and the live consumers
write to both. It reads the fact topics with its own consumer, outside the service's consumer
groups, until it is past end offsets captured after the live consumers began writing to the new
generation and the topics have been quiet for a moment (an end offset may undercount, so the
rebuild does not trust it alone). Then one update makes the new generation active.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from ticketstream.contracts import Envelope
from ticketstream.db import create_mongo_client
from ticketstream_analytics.dashboard import QueueFold, queue_change
from ticketstream_analytics.facts import fold_changes
from ticketstream_analytics.handlers import FACT_TOPICS, envelopes_of
from ticketstream_analytics.settings import Settings
from ticketstream_analytics.store import AnalyticsStore
from ticketstream_analytics.store_queue import QueueStore

log = logging.getLogger(__name__)

CAUGHT_UP_READ_FACTOR = 10
SWITCH_GRACE_SECONDS = 5.0


@dataclass(frozen=True)
class RebuildOutcome:
    generation: str
    replaced: str
    events: int
    seconds: float


async def _partitions(consumer: AIOKafkaConsumer, topics: list[str]) -> list[TopicPartition]:
    await consumer._client.force_metadata_update()  # metadata of topics not subscribed
    partitions: list[TopicPartition] = []
    for topic in topics:
        found = consumer.partitions_for_topic(topic)
        if not found:
            raise RuntimeError(f"topic {topic} does not exist")
        partitions.extend(TopicPartition(topic, number) for number in sorted(found))
    return partitions


EnvelopeHandler = Callable[[list[Envelope]], Awaitable[None]]


async def _read_until_caught_up(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition], settings: Settings, handle: EnvelopeHandler
) -> int:
    """Hand every batch from the consumer's position to `handle` until it is past the end offsets
    captured now and the topics have been quiet for a moment; returns the records read."""
    captured = await consumer.end_offsets(partitions)
    events = 0
    idle_since = time.monotonic()
    caught_up_since: float | None = None
    idle = settings.analytics_rebuild_idle_ms / 1000
    while True:
        batches = await consumer.getmany(timeout_ms=200, max_records=settings.analytics_batch_records)
        records = [record for batch in batches.values() for record in batch]
        now = time.monotonic()
        if records:
            idle_since = now
            events += len(records)
            await handle(envelopes_of(records))
        if caught_up_since is None and all([await consumer.position(p) >= captured[p] for p in partitions]):
            caught_up_since = now
        if caught_up_since is None:
            continue
        # Past the captured offsets, quiet topics end the reading. A busy desk never goes quiet,
        # so reading on for CAUGHT_UP_READ_FACTOR idle periods past them also ends it: whatever
        # an undercounted end offset hid has been read by then, and everything newer is written
        # to the new generation by the live consumers too.
        if now - idle_since >= idle or now - caught_up_since >= CAUGHT_UP_READ_FACTOR * idle:
            return events


async def _rebuild_into(store: AnalyticsStore, queue: QueueStore, settings: Settings, generation: str) -> int:
    """Fill `generation` from offset 0. Facts take every batch as it comes (live fact changes go
    to the new generation from the start, and fact updates commute). The queue is folded in
    memory up to the log's end and loaded in bulk; only then do live queue events go to the new
    generation, and the rebuild applies what arrived meanwhile one event at a time, as the live
    consumer does (both are idempotent)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        enable_auto_commit=False,
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
        client_id=f"ticketstream-{settings.service_name}-rebuild",
    )
    await consumer.start()
    try:
        partitions = await _partitions(consumer, [settings.topic(t) for t in FACT_TOPICS])
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        fold = QueueFold()

        async def fold_batch(envelopes: list[Envelope]) -> None:
            await store.apply(fold_changes(envelopes), generations=[generation])
            for envelope in envelopes:
                if (change := queue_change(envelope)) is not None:
                    fold.add(change)

        async def apply_batch(envelopes: list[Envelope]) -> None:
            await store.apply(fold_changes(envelopes), generations=[generation])
            for envelope in envelopes:
                await queue.apply(envelope)

        started = time.monotonic()
        events = await _read_until_caught_up(consumer, partitions, settings, fold_batch)
        log.info("rebuild read %d events in %.1f s", events, time.monotonic() - started)
        started = time.monotonic()
        await queue.bulk_load(tickets=list(fold.tickets.items()), clocks=list(fold.clocks.values()))
        await store.open_queue(generation)
        log.info(
            "rebuild loaded the queue of %d tickets and %d clocks in %.1f s",
            len(fold.tickets),
            len(fold.clocks),
            time.monotonic() - started,
        )
        started = time.monotonic()
        caught_up = await _read_until_caught_up(consumer, partitions, settings, apply_batch)
        log.info("rebuild applied %d newer events in %.1f s", caught_up, time.monotonic() - started)
        return events + caught_up
    finally:
        await consumer.stop()


async def rebuild(settings: Settings) -> RebuildOutcome:
    """Rebuild the projections into a new generation and make it the active one."""
    started = time.monotonic()
    client = create_mongo_client(settings)
    try:
        database = client[settings.database_name]
        store = AnalyticsStore(client, database)
        generation = await store.begin_generation()
        log.info("rebuilding analytics projections into generation %s", generation)
        queue = QueueStore(client, database, generation=generation)
        events = await _rebuild_into(store, queue, settings, generation)
        switching = time.monotonic()
        replaced = await store.switch_to(generation, grace_seconds=SWITCH_GRACE_SECONDS)
        log.info("rebuild switched from %s and dropped it in %.1f s", replaced, time.monotonic() - switching)
    finally:
        await client.close()
    return RebuildOutcome(generation, replaced, events, time.monotonic() - started)


def replay() -> str:
    """Entry point of `ticketstream replay analytics`: run a rebuild, describe the outcome."""
    outcome = asyncio.run(rebuild(Settings()))
    return (
        f"analytics: generation {outcome.generation} is active (replaced {outcome.replaced}); "
        f"{outcome.events} events in {outcome.seconds:.1f} s"
    )
