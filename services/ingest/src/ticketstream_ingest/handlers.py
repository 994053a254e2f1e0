"""Kafka subscribers of ingest: it learns which ticket each portal or chat request became."""

from __future__ import annotations

from datetime import UTC, datetime

from faststream.kafka import KafkaRouter
from faststream.kafka.annotations import KafkaMessage

from ticketstream.broker import consumer_options
from ticketstream.contracts import parse_event, topics
from ticketstream.contracts.events import TicketCreated, TicketInteractionAdded
from ticketstream_ingest import forms
from ticketstream_ingest.settings import Settings
from ticketstream_ingest.store_requests import RequestStore


def create_router(settings: Settings, requests: RequestStore) -> KafkaRouter:
    router = KafkaRouter()
    domain = forms.id_domain(settings.support_address)

    @router.subscriber(
        settings.topic(topics.TICKETS),
        title="ingest/tickets",
        description="A ticket made from a portal or chat request (its thread id is the request's "
        "Message-ID) turns the request's status to created, with the ticket's ref.",
        **consumer_options(settings),
    )
    async def on_ticket_event(message: KafkaMessage) -> None:
        envelope = parse_event(message.headers, message.body)
        event = envelope.data
        if isinstance(event, TicketCreated):
            message_id = event.ticket.email_thread_id
        elif isinstance(event, TicketInteractionAdded):
            # A request tickets threaded onto an existing ticket instead of opening one.
            message_id = event.interaction.message_id
        else:
            return
        # Most tickets come from email: only ids ingest generated are worth a database look-up.
        if message_id and forms.is_request_message_id(message_id, domain=domain):
            await requests.record_ticket(
                envelope,
                message_id=message_id,
                ticket_id=event.ticket_id,
                ref=event.ref,
                now=datetime.now(UTC),
            )

    return router
