"""Wire formats of Ticketstream: the only definition of what crosses a service boundary."""

from ticketstream.contracts import topics
from ticketstream.contracts.envelope import (
    Envelope,
    InvalidEventError,
    KafkaMessage,
    encode_event,
    parse_event,
)
from ticketstream.contracts.events import EVENT_CLASSES, EVENT_TYPES, Event

__all__ = [
    "EVENT_CLASSES",
    "EVENT_TYPES",
    "Envelope",
    "Event",
    "InvalidEventError",
    "KafkaMessage",
    "encode_event",
    "parse_event",
    "topics",
]
