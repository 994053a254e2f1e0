"""Kafka subscribers that turn ticket and SLA events into webhook deliveries.

They read in their own consumer group: in notify's main group they would split the partitions
with the in-app and email subscribers and each would see only part of every topic.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from faststream.kafka import KafkaRouter
from faststream.kafka.annotations import KafkaMessage

from ticketstream.broker import consumer_options
from ticketstream.contracts import parse_event, topics
from ticketstream_notify import webhooks
from ticketstream_notify.settings import Settings
from ticketstream_notify.store_webhook_deliveries import WebhookDeliveryStore


def webhook_consumer_group(settings: Settings) -> str:
    return f"{settings.consumer_group}-webhooks"


def create_webhook_router(
    settings: Settings, store: WebhookDeliveryStore, *, on_delivery_queued: Callable[[], None]
) -> KafkaRouter:
    router = KafkaRouter()
    options: dict[str, Any] = {**consumer_options(settings), "group_id": webhook_consumer_group(settings)}

    async def queue_deliveries(message: KafkaMessage) -> None:
        envelope = parse_event(message.headers, message.body)
        targets = [target for target in await store.enabled_targets() if webhooks.wants(target, envelope)]
        if not targets:
            return
        recorded = await store.record_deliveries(
            envelope,
            subscription_ids=[target.id for target in targets],
            body=webhooks.envelope_body(envelope),
            now=datetime.now(UTC),
        )
        if recorded:
            on_delivery_queued()

    @router.subscriber(
        settings.topic(topics.TICKETS),
        title="notify/webhooks/tickets",
        description="Ticket events become signed webhook deliveries to matching subscriptions.",
        **options,
    )
    async def on_ticket_event_for_webhooks(message: KafkaMessage) -> None:
        await queue_deliveries(message)

    @router.subscriber(
        settings.topic(topics.SLA),
        title="notify/webhooks/sla",
        description="SLA events become signed webhook deliveries to matching subscriptions.",
        **options,
    )
    async def on_sla_event_for_webhooks(message: KafkaMessage) -> None:
        await queue_deliveries(message)

    return router
