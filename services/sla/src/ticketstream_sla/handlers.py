"""Kafka subscribers of the sla service."""

from __future__ import annotations

from faststream.kafka import KafkaRouter
from faststream.kafka.annotations import KafkaMessage

from ticketstream.broker import consumer_options
from ticketstream.contracts import parse_event, topics
from ticketstream.contracts.events import TicketEvent
from ticketstream_sla.settings import Settings
from ticketstream_sla.store import SlaStore


def create_router(settings: Settings, store: SlaStore) -> KafkaRouter:
    router = KafkaRouter()

    @router.subscriber(
        settings.topic(topics.TICKETS),
        title="sla/tickets",
        description="Ticket events start, pause, resume, re-target, meet and cancel SLA clocks, "
        "and start or end the waiting-on-customer automations.",
        **consumer_options(settings),
    )
    async def on_ticket_event(message: KafkaMessage) -> None:
        envelope = parse_event(message.headers, message.body)
        if isinstance(envelope.data, TicketEvent):
            await store.apply_ticket_event(envelope, envelope.data)

    return router
