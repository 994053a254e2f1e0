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
    DirectoryAgent,
    DirectoryTeam,
    SlaBreached,
    SlaWaitingReminderDue,
    SlaWarning,
    TicketEvent,
    TicketInteractionAdded,
)
from ticketstream.contracts.models import TicketSnapshot
from ticketstream_notify import plans
from ticketstream_notify.notifier import Notifier
from ticketstream_notify.settings import Settings
from ticketstream_notify.sla_notices import Thread
from ticketstream_notify.store import NotifyStore
from ticketstream_notify.store_directory import DirectoryStore


def create_router(
    settings: Settings,
    store: NotifyStore,
    *,
    on_mail_queued: Callable[[], None],
    notifier: Notifier,
    directory: DirectoryStore,
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
        if not isinstance(event, TicketEvent):
            return
        known = await store.ticket(event.ticket_id)
        thread = known[1] if known else Thread(root=event.ticket.email_thread_id, latest=None)
        now = datetime.now(UTC)
        plan = await plans.for_ticket_event(event, thread, plan_context(envelope.id, now))
        notifications, to_send = await notifier.resolve(plan.notifications, plan.drafts)
        message_id = event.interaction.message_id if isinstance(event, TicketInteractionAdded) else None
        recorded = await store.record(
            envelope,
            notifications=notifications,
            mails=to_send,
            now=now,
            ticket=event.ticket,
            message_id=message_id,
        )
        if recorded and to_send:
            on_mail_queued()

    def plan_context(event_id: str, now: datetime) -> plans.PlanContext:
        return plans.PlanContext(
            notifier=notifier,
            support_address=settings.support_address,
            event_id=event_id,
            follow_url=follow_url,
            now=now,
        )

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
        now = datetime.now(UTC)
        plan = await plans.for_sla_event(event, ticket, thread, plan_context(envelope.id, now))
        notifications, mails = await notifier.resolve(plan.notifications, plan.drafts)
        recorded = await store.record(envelope, notifications=notifications, mails=mails, now=now)
        if recorded and mails:
            on_mail_queued()

    @router.subscriber(
        settings.topic(topics.DIRECTORY),
        title="notify/directory",
        description="Staff addresses, roles, teams and their leads and managers, for staff email and "
        "for escalations and low CSAT scores.",
        **consumer_options(settings),
    )
    async def on_directory_event(message: KafkaMessage) -> None:
        event = parse_event(message.headers, message.body).data
        if isinstance(event, DirectoryAgent | DirectoryTeam):
            await directory.apply(event)

    return router


class TicketNotYetKnownError(LookupError):
    def __init__(self, ticket_id: str) -> None:
        super().__init__(f"notify has not seen ticket {ticket_id} yet")
