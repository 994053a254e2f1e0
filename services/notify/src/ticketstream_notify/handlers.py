"""Kafka subscribers of notify."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from faststream.kafka import KafkaRouter
from faststream.kafka.annotations import KafkaMessage

from ticketstream.auth import issue_magic_link
from ticketstream.broker import consumer_options
from ticketstream.contracts import parse_event, topics
from ticketstream.contracts.events import TicketCreated, TicketInteractionAdded
from ticketstream.contracts.models import TicketSnapshot
from ticketstream_notify import domain
from ticketstream_notify.settings import Settings
from ticketstream_notify.store import NotifyStore


def create_router(
    settings: Settings, store: NotifyStore, *, on_mail_queued: Callable[[], None]
) -> KafkaRouter:
    router = KafkaRouter()

    def follow_url(ticket: TicketSnapshot) -> str:
        """A magic link: the customer follows and answers the ticket without an account."""
        if ticket.requester is None:
            return settings.public_url
        token, _ = issue_magic_link(settings, ref=ticket.ref, email=ticket.requester.email)
        return f"{settings.public_url.rstrip('/')}/v1/portal/magic/{token}"

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
                    event.ticket,
                    support_address=settings.support_address,
                    follow_url=follow_url(event.ticket),
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
