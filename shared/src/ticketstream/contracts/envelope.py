"""CloudEvents 1.0 in Kafka binary mode: attributes travel as `ce_*` headers, the value is JSON.

`encode_event` builds the message (the outbox stores exactly that); `parse_event` is the one way
a consumer turns headers and bytes back into a typed event.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pydantic import ValidationError

from ticketstream.contracts.events import EVENT_TYPES, Event

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
REQUIRED_HEADERS = ("ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time")


class InvalidEventError(ValueError):
    """The message is not a CloudEvent this platform understands; it belongs in the DLQ."""


@dataclass(frozen=True)
class KafkaMessage:
    """One record ready to be produced: topic (undeployed name), key, headers and JSON value."""

    topic: str
    key: str
    headers: dict[str, str]
    value: bytes


@dataclass(frozen=True)
class Envelope:
    """A parsed CloudEvent with its typed payload."""

    id: str
    source: str
    type: str
    time: datetime
    subject: str | None
    data: Event
    headers: dict[str, str] = field(default_factory=dict)


def source_of(service: str) -> str:
    return f"/ticketstream/{service}"


def encode_event(
    event: Event,
    *,
    service: str,
    key: str,
    subject: str | None = None,
    event_id: str | None = None,
    time: datetime | None = None,
) -> KafkaMessage:
    """Build the Kafka record of `event`; `traceparent` is added by whoever publishes it."""
    occurred = (time or datetime.now(UTC)).astimezone(UTC)
    headers = {
        "ce_specversion": SPEC_VERSION,
        "ce_id": event_id or str(uuid.uuid4()),
        "ce_source": source_of(service),
        "ce_type": event.event_type,
        "ce_time": occurred.isoformat().replace("+00:00", "Z"),
        "content-type": CONTENT_TYPE,
    }
    if subject:
        headers["ce_subject"] = subject
    return KafkaMessage(topic=event.topic, key=key, headers=headers, value=event.model_dump_json().encode())


def parse_event(headers: Mapping[str, str | bytes], value: bytes) -> Envelope:
    """Validate the envelope and the payload; raise InvalidEventError with the reason otherwise."""
    text_headers = {
        name: raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        for name, raw in headers.items()
    }
    missing = [name for name in REQUIRED_HEADERS if not text_headers.get(name)]
    if missing:
        raise InvalidEventError(f"missing CloudEvents headers: {', '.join(missing)}")
    if text_headers["ce_specversion"] != SPEC_VERSION:
        raise InvalidEventError(f"unsupported ce_specversion {text_headers['ce_specversion']!r}")
    event_type = text_headers["ce_type"]
    event_class = EVENT_TYPES.get(event_type)
    if event_class is None:
        raise InvalidEventError(f"unknown ce_type {event_type!r}")
    try:
        time = datetime.fromisoformat(text_headers["ce_time"].replace("Z", "+00:00"))
    except ValueError as error:
        raise InvalidEventError(f"ce_time is not RFC 3339: {error}") from error
    try:
        data = event_class.model_validate_json(value)
    except ValidationError as error:
        raise InvalidEventError(f"{event_type} payload is invalid: {error}") from error
    return Envelope(
        id=text_headers["ce_id"],
        source=text_headers["ce_source"],
        type=event_type,
        time=time,
        subject=text_headers.get("ce_subject"),
        data=data,
        headers=text_headers,
    )
