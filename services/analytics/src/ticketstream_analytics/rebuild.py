"""`ticketstream replay analytics`: rebuild every projection from offset 0, then switch over.

The rebuild fills a new generation while reports keep reading the active one (and the live
consumer writes to both). It reads the fact topics with its own consumer, outside the service's
consumer group, until it is past the end offsets captured after the new generation was marked as
building and the topics have been quiet for a moment (an end offset may undercount, so the
rebuild does not trust it alone). Then one update makes the new generation active.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from ticketstream.db import create_mongo_client
from ticketstream_analytics.facts import fold_changes
from ticketstream_analytics.handlers import FACT_TOPICS, envelopes_of
from ticketstream_analytics.settings import Settings
from ticketstream_analytics.store import AnalyticsStore

log = logging.getLogger(__name__)

CAUGHT_UP_READ_FACTOR = 10


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


async def _consume_into(store: AnalyticsStore, settings: Settings, generation: str) -> int:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        enable_auto_commit=False,
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
        client_id=f"ticketstream-{settings.service_name}-rebuild",
    )
    await consumer.start()
    events = 0
    try:
        partitions = await _partitions(consumer, [settings.topic(t) for t in FACT_TOPICS])
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        captured = await consumer.end_offsets(partitions)
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
                await store.apply(fold_changes(envelopes_of(records)), generations=[generation])
            if caught_up_since is None and all(
                [await consumer.position(p) >= captured[p] for p in partitions]
            ):
                caught_up_since = now
            if caught_up_since is None:
                continue
            # Past the captured offsets, quiet topics end the rebuild. A busy desk never goes quiet,
            # so reading on for CAUGHT_UP_READ_FACTOR idle periods past them also ends it: whatever
            # an undercounted end offset hid has been read by then, and everything newer is written
            # to this generation by the live consumer too.
            if now - idle_since >= idle or now - caught_up_since >= CAUGHT_UP_READ_FACTOR * idle:
                return events
    finally:
        await consumer.stop()


async def rebuild(settings: Settings) -> RebuildOutcome:
    """Rebuild the projections into a new generation and make it the active one."""
    started = time.monotonic()
    client = create_mongo_client(settings)
    try:
        store = AnalyticsStore(client, client[settings.database_name])
        generation = await store.begin_generation()
        log.info("rebuilding analytics projections into generation %s", generation)
        events = await _consume_into(store, settings, generation)
        replaced = await store.switch_to(generation)
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
