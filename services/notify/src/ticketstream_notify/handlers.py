"""Kafka subscribers of notify."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from faststream.kafka import KafkaRouter
from faststream.kafka.annotations import KafkaMessage

from ticketstream.auth import issue_magic_link
from ticketstream.broker import consumer_options
from ticketstream.contracts import parse_event, topics
from ticketstream.contracts.events import (
    SlaBreached,
    SlaWaitingReminderDue,
    SlaWarning,
    TicketCreated,
    TicketEvent,
    TicketInteractionAdded,
)
from ticketstream.contracts.models import TicketSnapshot
from ticketstream_notify import domain, sla_notices
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
                    first_interaction=event.first_interaction,
                )
            ]
        elif isinstance(event, TicketInteractionAdded):
            notifications = domain.interaction_notifications(event.ticket, event.interaction)
            mails = [
                domain.public_reply_email(
                    event.ticket, event.interaction, support_address=settings.support_address
                )
            ]
        if not isinstance(event, TicketEvent):
            return
        to_send = [mail for mail in mails if mail is not None]
        message_id = event.interaction.message_id if isinstance(event, TicketInteractionAdded) else None
        recorded = await store.record(
            envelope,
            notifications=notifications,
            mails=to_send,
            now=datetime.now(UTC),
            ticket=event.ticket,
            message_id=message_id,
        )
        if recorded and to_send:
            on_mail_queued()

    @router.subscriber(
        settings.topic(topics.SLA),
        title="notify/sla",
        description="SLA warnings and breaches reach staff in-app; a ticket waiting on its customer "
        "gets the check-in email when its reminder is due.",
        **consumer_options(settings),
    )
    async def on_sla_event(message: KafkaMessage) -> None:
        envelope = parse_event(message.headers, message.body)
        event = envelope.data
        if not isinstance(event, SlaWarning | SlaBreached | SlaWaitingReminderDue):
            return
        known = await store.ticket(event.ticket_id)
        # The ticket's own events come on another topic and may not have reached notify yet: the
        # retry policy tries again, and the dead-letter topic keeps the event if they never do.
        if known is None:
            raise TicketNotYetKnownError(event.ticket_id)
        ticket, thread = known
        if isinstance(event, SlaWaitingReminderDue) and ticket.updated_at < event.waiting_since:
            raise TicketNotYetKnownError(event.ticket_id)
        notifications: list[domain.InAppNotification] = []
        mails: list[domain.OutgoingEmail] = []
        if isinstance(event, SlaWarning):
            notifications = sla_notices.warning_notifications(ticket, event)
        elif isinstance(event, SlaBreached):
            notifications = sla_notices.breach_notifications(ticket, event)
        else:
            checkin = sla_notices.checkin_email(
                ticket, event, thread, support_address=settings.support_address
            )
            mails = [checkin] if checkin is not None else []
        recorded = await store.record(
            envelope, notifications=notifications, mails=mails, now=datetime.now(UTC)
        )
        if recorded and mails:
            on_mail_queued()

    return router


class TicketNotYetKnownError(LookupError):
    def __init__(self, ticket_id: str) -> None:
        super().__init__(f"notify has not seen ticket {ticket_id} yet")
