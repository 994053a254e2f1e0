"""Kafka subscriber of notify on the inbound topic: permanent bounces suppress their address."""

from __future__ import annotations

import logging

from faststream.kafka import KafkaRouter
from faststream.kafka.annotations import KafkaMessage

from ticketstream.broker import consumer_options
from ticketstream.contracts import parse_event, topics
from ticketstream.contracts.events import InboundBounceReceived
from ticketstream_notify import suppression
from ticketstream_notify.settings import Settings
from ticketstream_notify.store_suppression import SuppressionStore

log = logging.getLogger(__name__)


def create_router(settings: Settings, store: SuppressionStore) -> KafkaRouter:
    router = KafkaRouter()

    # FastStream decorators are untyped (see the handlers override in pyproject.toml).
    @router.subscriber(  # type: ignore[untyped-decorator]
        settings.topic(topics.INBOUND),
        title="notify/inbound",
        description="A permanent bounce of mail notify sent to the address puts it on the suppression list.",
        **consumer_options(settings),
    )
    async def on_inbound_event(message: KafkaMessage) -> None:
        event_type = message.headers.get("ce_type")
        if isinstance(event_type, bytes):
            event_type = event_type.decode("utf-8", "replace")
        if event_type != InboundBounceReceived.event_type:
            return  # inbound emails are tickets' business; skip them without decoding the body
        envelope = parse_event(message.headers, message.body)
        event = envelope.data
        if not isinstance(event, InboundBounceReceived):
            return
        sent_to = await store.recipients_of(event.original_message_id) if event.permanent else []
        found = suppression.from_bounce(event, sent_to=sent_to)
        if found is None:
            if event.permanent:
                log.info(
                    "ignored a bounce for %s: it names no mail notify sent there (%s)",
                    event.bounced_address,
                    event.original_message_id,
                )
            return
        if await store.record_bounce(envelope, found):
            log.info("suppressed %s after a bounce: %s", found.address, found.reason)

    return router
