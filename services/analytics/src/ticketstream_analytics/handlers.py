"""Kafka subscribers of analytics: ticket and SLA events feed the ticket facts and, in a
consumer group of its own, the queue dashboard."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from faststream.kafka import KafkaRouter
from faststream.kafka.annotations import KafkaMessage

from ticketstream.broker import consumer_options
from ticketstream.contracts import Envelope, InvalidEventError, parse_event, topics
from ticketstream_analytics.facts import fold_changes
from ticketstream_analytics.settings import Settings
from ticketstream_analytics.store import AnalyticsStore
from ticketstream_analytics.store_queue import QueueProjections

log = logging.getLogger(__name__)

FACT_TOPICS = (topics.TICKETS, topics.SLA)


def envelopes_of(records: Iterable[Any]) -> list[Envelope]:
    """Parse a batch of Kafka records; an unparseable record is logged with its position and
    skipped (it can never become valid, and it must not hold up the rest of the batch)."""
    envelopes = []
    for record in records:
        headers = {name: value for name, value in record.headers}
        try:
            envelopes.append(parse_event(headers, record.value or b""))
        except InvalidEventError as error:
            log.error("skipping %s[%s]@%s: %s", record.topic, record.partition, record.offset, error)
    return envelopes


def create_router(settings: Settings, store: AnalyticsStore, queue: QueueProjections) -> KafkaRouter:
    router = KafkaRouter()

    for topic in FACT_TOPICS:

        @router.subscriber(
            settings.topic(topic),
            title=f"analytics/{topic}",
            description="Events fold into one fact per ticket (batched, idempotent, any order).",
            batch=True,
            max_records=settings.analytics_batch_records,
            **consumer_options(settings),
        )
        async def on_events(message: KafkaMessage) -> None:
            records = message.raw_message
            batch = records if isinstance(records, tuple | list) else (records,)
            await store.apply_live(fold_changes(envelopes_of(batch)))

        # The dashboard applies one event per transaction: in the facts' group it would hold
        # their bulk writes back, and two subscribers of one topic in one group split its
        # partitions, so it reads in a group of its own.
        @router.subscriber(
            settings.topic(topic),
            title=f"analytics-queue/{topic}",
            description="Events keep the live queue dashboard's projection.",
            **{**consumer_options(settings), "group_id": f"{settings.consumer_group}-queue"},
        )
        async def on_queue_event(message: KafkaMessage) -> None:
            await queue.apply_live(parse_event(message.headers, message.body))

    return router
