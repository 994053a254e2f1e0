"""The event contract (ARCHITECTURE §3): every event round-trips through its CloudEvents envelope.

Event type names and topics are public interface: the list below is copied from the
architecture document on purpose, so that renaming an event fails here.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from ticketstream.contracts import (
    EVENT_CLASSES,
    EVENT_TYPES,
    Event,
    InvalidEventError,
    KafkaMessage,
    encode_event,
    parse_event,
    topics,
)
from ticketstream.contracts.events import (
    AttachmentRef,
    InboundChannel,
    InteractionSummary,
    SlaTarget,
)
from ticketstream.contracts.models import (
    Csat,
    InteractionType,
    Person,
    Priority,
    Source,
    TicketSnapshot,
    TicketStatus,
    TicketType,
)

# ARCHITECTURE §3, table "Event backbone", in document order.
DOCUMENTED_EVENT_TYPES = [
    "inbound.message.received",
    "inbound.csat.submitted",
    "inbound.bounce.received",
    "ticket.created",
    "ticket.updated",
    "ticket.status_changed",
    "ticket.assigned",
    "ticket.interaction_added",
    "ticket.escalated",
    "ticket.merged",
    "ticket.split",
    "ticket.archived",
    "ticket.csat_recorded",
    "sla.clock_started",
    "sla.clock_retargeted",
    "sla.clock_paused",
    "sla.clock_resumed",
    "sla.warning",
    "sla.breached",
    "sla.met",
    "sla.clock_cancelled",
    "sla.waiting_reminder_due",
    "sla.waiting_auto_close_due",
    "notify.delivered",
    "notify.failed",
    "notify.webhook_delivered",
    "notify.webhook_failed",
    "directory.agent",
    "directory.team",
    "directory.customer",
]

DOCUMENTED_TOPICS = {
    "ticketstream.inbound.v1": "inbound.",
    "ticketstream.tickets.v1": "ticket.",
    "ticketstream.sla.v1": "sla.",
    "ticketstream.notify.v1": "notify.",
    "ticketstream.directory.v1": "directory.",
}

T0 = datetime(2026, 4, 1, 9, 30, 15, 123456, tzinfo=UTC)
RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$")
ALICE = Person(email="alice@example.com", name="Alice Example")


# --- a valid instance of every event --------------------------------------------------------


def snapshot() -> TicketSnapshot:
    """A ticket with most optional fields set, so a round trip exercises them."""
    return TicketSnapshot(
        id="t-42",
        ref="TKT-0042",
        title="Printer on fire",
        description="It is really on fire.",
        status=TicketStatus.IN_PROGRESS,
        priority=Priority.HIGH,
        type=TicketType.BUG,
        source=Source.EMAIL,
        source_email="alice@example.com",
        category="hardware",
        tags=["fire", "printer"],
        assignee_ids=["agent-1"],
        assigned_team="support",
        requester=ALICE,
        customer_id="cust-1",
        contact_ids=["cust-1"],
        primary_contact_id="cust-1",
        email_thread_id="<root@example.com>",
        due_date=T0 + timedelta(days=2),
        first_response_at=T0 + timedelta(minutes=5),
        sla_breach_at=T0 + timedelta(hours=4),
        escalation_level=1,
        csat=Csat(score=4, comment="quick"),
        version=3,
        created_at=T0,
        updated_at=T0 + timedelta(minutes=5),
    )


def ticket_base() -> dict[str, Any]:
    return {
        "ticket_id": "t-42",
        "ref": "TKT-0042",
        "sequence": 3,
        "actor": "agent-1",
        "occurred_at": T0,
        "ticket": snapshot(),
    }


def sla_base() -> dict[str, Any]:
    return {
        "ticket_id": "t-42",
        "ref": "TKT-0042",
        "clock_id": "t-42:first_response",
        "target": SlaTarget.FIRST_RESPONSE,
        "policy_id": "default-high",
        "priority": Priority.HIGH,
        "due_at": T0 + timedelta(hours=4),
        "occurred_at": T0,
    }


def notify_base() -> dict[str, Any]:
    return {
        "notification_id": "n-1",
        "ticket_id": "t-42",
        "ref": "TKT-0042",
        "channel": "email",
        "recipient": "alice@example.com",
        "occurred_at": T0,
    }


SAMPLES: dict[str, Any] = {
    "inbound.message.received": lambda: {
        "inbound_id": "in-1",
        "channel": InboundChannel.SMTP,
        "message_id": "<m2@example.com>",
        "in_reply_to": "<root@example.com>",
        "references": ["<root@example.com>"],
        "email_thread_id": "<root@example.com>",
        "sender": ALICE,
        "recipients": ["support@ticketstream.local"],
        "cc": ["bob@example.com"],
        "subject": "Re: Printer on fire",
        "text_body": "Still on fire.",
        "html_body": "<p>Still on fire.</p>",
        "attachments": [
            AttachmentRef(filename="photo.jpg", content_type="image/jpeg", size=2048, storage_id="blob-1")
        ],
        "auto_submitted": False,
        "received_at": T0,
    },
    "inbound.csat.submitted": lambda: {
        "ticket_id": "t-42",
        "ref": "TKT-0042",
        "csat": Csat(score=5, comment="great"),
        "submitted_at": T0,
    },
    "inbound.bounce.received": lambda: {
        "inbound_id": "in-2",
        "bounced_address": "gone@example.com",
        "original_message_id": "<ack.t-42@ticketstream.local>",
        "permanent": True,
        "diagnostic": "550 5.1.1 user unknown",
        "received_at": T0,
    },
    "ticket.created": ticket_base,
    "ticket.updated": lambda: {**ticket_base(), "changed_fields": ["priority", "tags"]},
    "ticket.status_changed": lambda: {
        **ticket_base(),
        "from_status": TicketStatus.OPEN,
        "to_status": TicketStatus.IN_PROGRESS,
    },
    "ticket.assigned": lambda: {**ticket_base(), "previous_assignee_ids": ["agent-9"], "reason": "rebalance"},
    "ticket.interaction_added": lambda: {
        **ticket_base(),
        "interaction": InteractionSummary(
            id="i-1",
            type=InteractionType.EMAIL_INBOUND,
            customer_visible=True,
            author=ALICE,
            body_text="Still on fire.",
            message_id="<m2@example.com>",
            created_at=T0,
        ),
    },
    "ticket.escalated": lambda: {
        **ticket_base(),
        "from_level": 0,
        "to_level": 1,
        "reason": "breach imminent",
        "previous_priority": Priority.MEDIUM,
    },
    "ticket.merged": lambda: {**ticket_base(), "merged_into": "t-7"},
    "ticket.split": lambda: {**ticket_base(), "new_ticket_id": "t-43", "new_ref": "TKT-0043"},
    "ticket.archived": ticket_base,
    "ticket.csat_recorded": lambda: {**ticket_base(), "csat": Csat(score=2, comment="slow")},
    "sla.clock_started": lambda: {**sla_base(), "target_seconds": 14400},
    "sla.clock_retargeted": lambda: {**sla_base(), "target_seconds": 3600},
    "sla.clock_paused": lambda: {**sla_base(), "due_at": None},
    "sla.clock_resumed": sla_base,
    "sla.warning": sla_base,
    "sla.breached": sla_base,
    "sla.met": sla_base,
    "sla.clock_cancelled": sla_base,
    "sla.waiting_reminder_due": lambda: {
        "ticket_id": "t-42",
        "ref": "TKT-0042",
        "waiting_since": T0,
        "occurred_at": T0 + timedelta(days=1),
        "close_at": T0 + timedelta(days=2),
    },
    "sla.waiting_auto_close_due": lambda: {
        "ticket_id": "t-42",
        "ref": "TKT-0042",
        "waiting_since": T0,
        "occurred_at": T0 + timedelta(days=2),
    },
    "notify.delivered": lambda: {**notify_base(), "message_id": "<ack.t-42@ticketstream.local>"},
    "notify.failed": lambda: {**notify_base(), "error": "550 mailbox unavailable", "permanent": True},
    "notify.webhook_delivered": lambda: {**notify_base(), "channel": "webhook", "status_code": 204},
    "notify.webhook_failed": lambda: {
        **notify_base(),
        "channel": "webhook",
        "error": "timeout",
        "status_code": None,
    },
    "directory.agent": lambda: {
        "id": "agent-1",
        "occurred_at": T0,
        "email": "agent1@example.com",
        "name": "Agent One",
        "role": "agent",
        "teams": ["support"],
    },
    "directory.team": lambda: {
        "id": "support",
        "occurred_at": T0,
        "name": "Support",
        "lead_ids": ["agent-2"],
        "manager_ids": ["agent-3"],
    },
    "directory.customer": lambda: {
        "id": "cust-1",
        "deleted": False,
        "occurred_at": T0,
        "email": "alice@example.com",
        "name": "Alice Example",
        "organisation_id": "org-1",
        "tier": "gold",
    },
}


def make_event(event_class: type[Event]) -> Event:
    factory = SAMPLES.get(event_class.event_type)
    assert factory is not None, (
        f"add a sample of {event_class.__name__} ({event_class.event_type}) to SAMPLES"
    )
    return event_class(**factory())


def by_type(event_class: type[Event]) -> str:
    return event_class.event_type


def encoded(event_type: str = "ticket.created", **options: Any) -> KafkaMessage:
    event = make_event(EVENT_TYPES[event_type])
    return encode_event(event, service="tickets", key="t-42", **options)


# --- the catalogue --------------------------------------------------------------------------


def test_event_type_names_are_exactly_the_documented_ones() -> None:
    assert [event_class.event_type for event_class in EVENT_CLASSES] == DOCUMENTED_EVENT_TYPES


def test_event_types_are_unique_and_indexed() -> None:
    names = [event_class.event_type for event_class in EVENT_CLASSES]
    assert len(names) == len(set(names))
    assert {event_class.event_type: event_class for event_class in EVENT_CLASSES} == EVENT_TYPES


def test_topics_are_the_documented_ones() -> None:
    assert list(topics.EVENT_TOPICS) == list(DOCUMENTED_TOPICS)
    assert set(topics.COMPACTED_TOPICS) == {"ticketstream.directory.v1"}


@pytest.mark.parametrize("event_class", EVENT_CLASSES, ids=by_type)
def test_event_type_prefix_matches_its_topic(event_class: type[Event]) -> None:
    assert event_class.topic in topics.EVENT_TOPICS
    assert event_class.event_type.startswith(DOCUMENTED_TOPICS[event_class.topic])


def test_every_topic_carries_at_least_one_event() -> None:
    assert {event_class.topic for event_class in EVENT_CLASSES} == set(topics.EVENT_TOPICS)


def test_all_topics_include_a_dead_letter_topic_per_event_topic() -> None:
    every = topics.all_topics()

    assert len(every) == len(set(every)) == 2 * len(topics.EVENT_TOPICS)
    for topic in topics.EVENT_TOPICS:
        assert topic in every
        assert f"{topic}.dlq" in every
        assert topics.dlq_of(topic) == f"{topic}.dlq"


# --- round trips ----------------------------------------------------------------------------


@pytest.mark.parametrize("event_class", EVENT_CLASSES, ids=by_type)
def test_every_event_round_trips(event_class: type[Event]) -> None:
    event = make_event(event_class)
    service = event_class.topic.split(".")[1]

    message = encode_event(event, service=service, key="key-1", subject="TKT-0042", time=T0)
    envelope = parse_event(message.headers, message.value)

    assert message.topic == event_class.topic
    assert message.key == "key-1"
    assert type(envelope.data) is event_class
    assert envelope.data == event
    assert envelope.type == event_class.event_type
    assert envelope.id == message.headers["ce_id"]
    assert envelope.source == f"/ticketstream/{service}"
    assert envelope.subject == "TKT-0042"
    assert envelope.time == T0
    assert envelope.headers == message.headers
    # The payload is plain JSON with the event's own fields and nothing of the envelope.
    payload = json.loads(message.value)
    assert set(payload) == set(event_class.model_fields)


@pytest.mark.parametrize("event_class", EVENT_CLASSES, ids=by_type)
def test_every_event_round_trips_with_byte_headers(event_class: type[Event]) -> None:
    """Kafka clients hand headers over as bytes."""
    event = make_event(event_class)
    message = encode_event(event, service="tickets", key="k")
    raw_headers = {name: value.encode() for name, value in message.headers.items()}

    assert parse_event(raw_headers, message.value).data == event


def test_headers_of_an_encoded_event() -> None:
    message = encoded(subject="TKT-0042", time=T0)

    assert message.headers == {
        "ce_specversion": "1.0",
        "ce_id": message.headers["ce_id"],
        "ce_source": "/ticketstream/tickets",
        "ce_type": "ticket.created",
        "ce_time": "2026-04-01T09:30:15.123456Z",
        "ce_subject": "TKT-0042",
        "content-type": "application/json",
    }
    assert message.headers["ce_id"]


def test_ce_id_is_unique_per_call_unless_given() -> None:
    ids = {encoded().headers["ce_id"] for _ in range(20)}

    assert len(ids) == 20
    assert encoded(event_id="evt-7").headers["ce_id"] == "evt-7"


def test_ce_time_is_rfc3339_utc_ending_in_z() -> None:
    plus_two = timezone(timedelta(hours=2))

    assert (
        encoded(time=datetime(2026, 1, 1, 12, 0, tzinfo=plus_two)).headers["ce_time"]
        == "2026-01-01T10:00:00Z"
    )
    assert RFC3339_UTC.match(encoded().headers["ce_time"])
    now = datetime.now(UTC)
    stamped = datetime.fromisoformat(encoded().headers["ce_time"].replace("Z", "+00:00"))
    assert abs(stamped - now) < timedelta(minutes=1)


def test_ce_subject_only_when_given() -> None:
    message = encoded()

    assert "ce_subject" not in message.headers
    assert parse_event(message.headers, message.value).subject is None


@pytest.mark.parametrize("service", ["ingest", "tickets", "sla", "notify", "analytics"])
def test_ce_source_names_the_producing_service(service: str) -> None:
    event = make_event(EVENT_TYPES["ticket.created"])
    assert encode_event(event, service=service, key="k").headers["ce_source"] == f"/ticketstream/{service}"


# --- what parse_event refuses ----------------------------------------------------------------


def test_missing_headers_are_named() -> None:
    message = encoded()
    headers = {name: value for name, value in message.headers.items() if name not in {"ce_id", "ce_time"}}

    with pytest.raises(InvalidEventError, match="ce_id, ce_time"):
        parse_event(headers, message.value)


@pytest.mark.parametrize("header", ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time"])
def test_each_required_header_is_required(header: str) -> None:
    message = encoded()
    without = {name: value for name, value in message.headers.items() if name != header}
    empty = {**message.headers, header: ""}

    with pytest.raises(InvalidEventError, match=header):
        parse_event(without, message.value)
    with pytest.raises(InvalidEventError, match=header):
        parse_event(empty, message.value)


def test_no_headers_at_all() -> None:
    with pytest.raises(InvalidEventError, match="ce_specversion, ce_id, ce_source, ce_type, ce_time"):
        parse_event({}, encoded().value)


def test_wrong_specversion_is_refused() -> None:
    message = encoded()
    with pytest.raises(InvalidEventError, match=re.escape("'0.3'")):
        parse_event({**message.headers, "ce_specversion": "0.3"}, message.value)


def test_unknown_event_type_is_refused() -> None:
    message = encoded()
    with pytest.raises(InvalidEventError, match=re.escape("'ticket.exploded'")):
        parse_event({**message.headers, "ce_type": "ticket.exploded"}, message.value)


@pytest.mark.parametrize("value", [b"{not json", b"", b"[]", b"null", b"\xff\xfe"])
def test_invalid_json_payload_is_refused(value: bytes) -> None:
    with pytest.raises(InvalidEventError, match=re.escape("ticket.created payload is invalid")):
        parse_event(encoded().headers, value)


def test_payload_of_another_type_is_refused() -> None:
    """A ticket.created header on an sla.warning payload: fields are missing, not guessed."""
    sla_payload = encoded("sla.warning").value
    with pytest.raises(InvalidEventError, match=re.escape("ticket.created payload is invalid")):
        parse_event(encoded().headers, sla_payload)


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01T00:00:00Z", "12:00"])
def test_bad_ce_time_is_refused(value: str) -> None:
    message = encoded()
    with pytest.raises(InvalidEventError, match="ce_time"):
        parse_event({**message.headers, "ce_time": value}, message.value)


# --- JSON schemas ---------------------------------------------------------------------------


@pytest.mark.parametrize("event_class", EVENT_CLASSES, ids=by_type)
def test_json_schema_is_stable_and_lists_required_fields(event_class: type[Event]) -> None:
    first = json.dumps(event_class.model_json_schema(), sort_keys=True)
    second = json.dumps(event_class.model_json_schema(), sort_keys=True)
    schema = json.loads(first)

    assert first == second
    assert schema["type"] == "object"
    assert set(schema["properties"]) == set(event_class.model_fields)
    assert "event_type" not in schema["properties"]
    assert "topic" not in schema["properties"]
    required = {name for name, field in event_class.model_fields.items() if field.is_required()}
    assert set(schema.get("required", [])) == required
    assert required, f"{event_class.__name__} has no required field"


@pytest.mark.parametrize(
    ("event_type", "required"),
    [
        ("ticket.created", {"ticket_id", "ref", "sequence", "occurred_at", "ticket"}),
        (
            "ticket.status_changed",
            {"ticket_id", "ref", "sequence", "occurred_at", "ticket", "from_status", "to_status"},
        ),
        (
            "inbound.message.received",
            {"inbound_id", "channel", "message_id", "email_thread_id", "sender", "subject", "received_at"},
        ),
        ("sla.breached", {"ticket_id", "ref", "clock_id", "target", "policy_id", "priority", "occurred_at"}),
        ("notify.failed", {"notification_id", "channel", "recipient", "occurred_at", "error"}),
        ("directory.agent", {"id", "occurred_at", "email", "name", "role"}),
    ],
)
def test_documented_required_fields(event_type: str, required: set[str]) -> None:
    assert set(EVENT_TYPES[event_type].model_json_schema()["required"]) == required


def test_ticket_events_carry_the_full_snapshot_in_their_schema() -> None:
    schema = EVENT_TYPES["ticket.updated"].model_json_schema()
    snapshot_schema = schema["$defs"]["TicketSnapshot"]

    assert schema["properties"]["ticket"] == {"$ref": "#/$defs/TicketSnapshot"}
    assert set(snapshot_schema["properties"]) == set(TicketSnapshot.model_fields)
    assert {"id", "ref", "title", "status", "priority", "source", "version"} <= set(
        snapshot_schema["required"]
    )
