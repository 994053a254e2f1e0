"""Kafka subscribers of the sla service."""

from __future__ import annotations

from datetime import UTC, datetime

from faststream.kafka import KafkaRouter
from faststream.kafka.annotations import KafkaMessage

from ticketstream.broker import consumer_options
from ticketstream.contracts import parse_event, topics
from ticketstream.contracts.events import TicketCreated
from ticketstream_sla.settings import Settings
from ticketstream_sla.store import SlaStore


def create_router(settings: Settings, store: SlaStore) -> KafkaRouter:
    router = KafkaRouter()

    @router.subscriber(
        settings.topic(topics.TICKETS),
        title="sla/tickets",
        description="Ticket events start, pause, resume and stop SLA clocks.",
        **consumer_options(settings),
    )
    async def on_ticket_event(message: KafkaMessage) -> None:
        envelope = parse_event(message.headers, message.body)
        if isinstance(envelope.data, TicketCreated):
            await store.start_clocks(envelope, envelope.data, now=datetime.now(UTC))

    return router
