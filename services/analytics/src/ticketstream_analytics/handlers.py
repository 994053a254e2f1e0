"""Kafka subscribers of analytics."""

from __future__ import annotations

from faststream.kafka import KafkaRouter
from faststream.kafka.annotations import KafkaMessage

from ticketstream.broker import consumer_options
from ticketstream.contracts import parse_event, topics
from ticketstream.contracts.events import TicketCreated
from ticketstream_analytics.settings import Settings
from ticketstream_analytics.store import AnalyticsStore
from ticketstream_analytics.store_queue import QueueStore


def create_router(settings: Settings, store: AnalyticsStore, queue: QueueStore) -> KafkaRouter:
    router = KafkaRouter()

    @router.subscriber(
        settings.topic(topics.TICKETS),
        title="analytics/tickets",
        description="Ticket events feed the reporting projections and the queue dashboard.",
        **consumer_options(settings),
    )
    async def on_ticket_event(message: KafkaMessage) -> None:
        envelope = parse_event(message.headers, message.body)
        if isinstance(envelope.data, TicketCreated):
            await store.record_ticket_created(envelope, envelope.data)
        await queue.apply(envelope)

    @router.subscriber(
        settings.topic(topics.SLA),
        title="analytics/sla",
        description="SLA clock events feed the queue dashboard (at risk, breached).",
        **consumer_options(settings),
    )
    async def on_sla_event(message: KafkaMessage) -> None:
        await queue.apply(parse_event(message.headers, message.body))

    return router
