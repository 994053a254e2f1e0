"""Kafka subscribers of notify."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from faststream.kafka import KafkaRouter
from faststream.kafka.annotations import KafkaMessage

from ticketstream.broker import consumer_options
from ticketstream.contracts import parse_event, topics
from ticketstream.contracts.events import TicketCreated
from ticketstream_notify import domain
from ticketstream_notify.settings import Settings
from ticketstream_notify.store import NotifyStore


def create_router(
    settings: Settings, store: NotifyStore, *, on_mail_queued: Callable[[], None]
) -> KafkaRouter:
    router = KafkaRouter()

    @router.subscriber(
        settings.topic(topics.TICKETS),
        title="notify/tickets",
        description="Ticket events become in-app notifications and customer email.",
        **consumer_options(settings),
    )
    async def on_ticket_event(message: KafkaMessage) -> None:
        envelope = parse_event(message.headers, message.body)
        if not isinstance(envelope.data, TicketCreated):
            return
        ticket = envelope.data.ticket
        acknowledgement = domain.acknowledgement_email(
            ticket, support_address=settings.support_address, public_url=settings.public_url
        )
        recorded = await store.record(
            envelope,
            notifications=domain.new_ticket_notifications(ticket),
            mails=[acknowledgement] if acknowledgement else [],
            now=datetime.now(UTC),
        )
        if recorded:
            on_mail_queued()

    return router
