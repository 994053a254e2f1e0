"""Kafka subscribers of the tickets service (thin: parse, hand to the store)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from faststream.kafka import KafkaRouter
from faststream.kafka.annotations import KafkaMessage

from ticketstream.broker import consumer_options
from ticketstream.contracts import parse_event, topics
from ticketstream.contracts.events import (
    InboundCsatSubmitted,
    InboundMessageReceived,
    NotifyDelivered,
    SlaBreached,
    SlaClockResumed,
    SlaClockRetargeted,
    SlaClockStarted,
    SlaWaitingAutoCloseDue,
)
from ticketstream_tickets.delivery import delivery_report
from ticketstream_tickets.settings import Settings
from ticketstream_tickets.store import TicketStore

log = logging.getLogger(__name__)


def create_router(settings: Settings, store: TicketStore) -> KafkaRouter:
    router = KafkaRouter()

    @router.subscriber(
        settings.topic(topics.INBOUND),
        title="tickets/inbound",
        description=(
            "Inbound messages become tickets or interactions of their thread's ticket; "
            "satisfaction answers and bounces are recorded on their ticket."
        ),
        **consumer_options(settings),
    )
    async def on_inbound(message: KafkaMessage) -> None:
        envelope = parse_event(message.headers, message.body)
        if isinstance(envelope.data, InboundMessageReceived):
            ticket = await store.apply_inbound_message(envelope, envelope.data, now=datetime.now(UTC))
            if ticket is not None:
                log.info("inbound %s applied to %s", envelope.data.message_id, ticket.ref)
        elif isinstance(envelope.data, InboundCsatSubmitted):
            await store.record_csat(envelope, envelope.data, now=datetime.now(UTC))
        elif report := delivery_report(envelope.data):
            await store.record_delivery(envelope, report, now=datetime.now(UTC))

    @router.subscriber(
        settings.topic(topics.SLA),
        title="tickets/sla",
        description=(
            "SLA clocks stamp due_date (when started, re-targeted or resumed) and sla_breach_at; "
            "a ticket still waiting on a customer who did not answer the check-in is closed."
        ),
        **consumer_options(settings),
    )
    async def on_sla_event(message: KafkaMessage) -> None:
        envelope = parse_event(message.headers, message.body)
        if isinstance(envelope.data, SlaClockStarted | SlaClockRetargeted | SlaClockResumed | SlaBreached):
            await store.apply_sla_event(envelope, envelope.data, now=datetime.now(UTC))
        elif isinstance(envelope.data, SlaWaitingAutoCloseDue):
            await store.close_waiting_ticket(envelope, envelope.data, now=datetime.now(UTC))

    @router.subscriber(
        settings.topic(topics.NOTIFY),
        title="tickets/notify",
        description=(
            "Delivery reports of outbound emails update their interactions' delivery status; the "
            "Message-IDs of delivered notification emails are remembered, so answers to them thread."
        ),
        **consumer_options(settings),
    )
    async def on_notify_event(message: KafkaMessage) -> None:
        envelope = parse_event(message.headers, message.body)
        if isinstance(envelope.data, NotifyDelivered):
            await store.remember_notification(envelope.data, now=datetime.now(UTC))
        if report := delivery_report(envelope.data):
            await store.record_delivery(envelope, report, now=datetime.now(UTC))

    return router
