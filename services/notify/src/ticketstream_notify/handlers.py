"""Kafka subscribers of notify."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from faststream.kafka import KafkaRouter
from faststream.kafka.annotations import KafkaMessage

from ticketstream.broker import consumer_options
from ticketstream.contracts import parse_event, topics
from ticketstream.contracts.events import TicketCreated, TicketInteractionAdded
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
        event = envelope.data
        notifications: list[domain.InAppNotification] = []
        mails: list[domain.OutgoingEmail | None] = []
        if isinstance(event, TicketCreated):
            notifications = domain.new_ticket_notifications(event.ticket)
            mails = [
                domain.acknowledgement_email(
                    event.ticket, support_address=settings.support_address, public_url=settings.public_url
                )
            ]
        elif isinstance(event, TicketInteractionAdded):
            notifications = domain.interaction_notifications(event.ticket, event.interaction)
            mails = [
                domain.public_reply_email(
                    event.ticket, event.interaction, support_address=settings.support_address
                )
            ]
        to_send = [mail for mail in mails if mail is not None]
        if not notifications and not to_send:
            return
        if await store.record(envelope, notifications=notifications, mails=to_send, now=datetime.now(UTC)):
            on_mail_queued()

    return router
