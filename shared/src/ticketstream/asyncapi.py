"""AsyncAPI documents generated from the services' FastStream brokers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Union

from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI

from ticketstream.contracts import EVENT_CLASSES
from ticketstream.settings import PlatformSettings

TITLE = "Ticketstream event backbone"
DESCRIPTION = (
    "CloudEvents 1.0 in Kafka binary mode: attributes in ce_* headers (ce_type names the event), "
    "the JSON payload as the record value."
)


def declare_publications(broker: KafkaBroker, settings: PlatformSettings, *topic_names: str) -> None:
    """Document what a service produces: one publisher per topic with every event it may carry.

    The services publish through the outbox relay, not through these publishers; they exist so
    that the AsyncAPI document shows each topic's payloads.
    """
    for topic in topic_names:
        events = tuple(event for event in EVENT_CLASSES if event.topic == topic)
        broker.publisher(
            settings.topic(topic),
            title=f"{settings.service_name} -> {topic}",
            description="Events: " + ", ".join(event.event_type for event in events),
            schema=Union[events],  # noqa: UP007 - a runtime union of a computed tuple
        )


def asyncapi_document(brokers: Sequence[KafkaBroker]) -> dict[str, Any]:
    spec = AsyncAPI(*brokers, title=TITLE, version="1.0.0", description=DESCRIPTION)
    document: dict[str, Any] = spec.to_specification().to_jsonable()
    return document
