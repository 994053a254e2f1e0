"""Kafka subscribers of analytics."""

from __future__ import annotations

from faststream.kafka import KafkaRouter
from faststream.kafka.annotations import KafkaMessage

from ticketstream.broker import consumer_options
from ticketstream.contracts import parse_event, topics
from ticketstream.contracts.events import TicketCreated
from ticketstream_analytics.settings import Settings
from ticketstream_analytics.store import AnalyticsStore


def create_router(settings: Settings, store: AnalyticsStore) -> KafkaRouter:
    router = KafkaRouter()

    @router.subscriber(
        settings.topic(topics.TICKETS),
        title="analytics/tickets",
        description="Ticket events feed the reporting projections.",
        **consumer_options(settings),
    )
    async def on_ticket_event(message: KafkaMessage) -> None:
        envelope = parse_event(message.headers, message.body)
        if isinstance(envelope.data, TicketCreated):
            await store.record_ticket_created(envelope, envelope.data)

    return router
