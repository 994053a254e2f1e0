"""Unit tests of the tickets service's pure rules: refs, titles and how a ticket is born."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ticketstream.contracts.events import InboundChannel, InboundMessageReceived
from ticketstream.contracts.models import (
    InteractionType,
    Person,
    Priority,
    Source,
    TicketStatus,
    TicketType,
)
from ticketstream_tickets.domain import (
    NewTicket,
    format_ref,
    inbound_interaction,
    new_ticket_from_email,
    open_ticket,
    parse_ref,
    title_from_subject,
    touch,
)

NOW = datetime(2026, 3, 14, 9, 26, 53, tzinfo=UTC)
REQUESTER = Person(email="alice@example.com", name="Alice Example")


def inbound_event(**overrides: object) -> InboundMessageReceived:
    values: dict[str, object] = {
        "inbound_id": "in-1",
        "channel": InboundChannel.SMTP,
        "message_id": "<m1@example.com>",
        "email_thread_id": "<root@example.com>",
        "sender": REQUESTER,
        "recipients": ["support@help.example.test"],
        "subject": "  Printer\t on   fire ",
        "text_body": "It is really on fire.",
        "received_at": NOW - timedelta(seconds=3),
    }
    values.update(overrides)
    return InboundMessageReceived.model_validate(values)


# --- refs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "ref"),
    [(1, "TKT-0001"), (42, "TKT-0042"), (9999, "TKT-9999"), (10000, "TKT-10000"), (123456, "TKT-123456")],
)
def test_format_ref(number: int, ref: str) -> None:
    assert format_ref(number) == ref


@pytest.mark.parametrize("number", [0, -1, -10000])
def test_format_ref_rejects_numbers_below_one(number: int) -> None:
    with pytest.raises(ValueError, match="start at 1"):
        format_ref(number)


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("TKT-0001", 1),
        ("TKT-0042", 42),
        ("TKT-10000", 10000),
        ("tkt-0042", 42),
        ("Tkt-0007", 7),
        ("  TKT-0042\n", 42),
    ],
)
def test_parse_ref(text: str, number: int) -> None:
    assert parse_ref(text) == number


@pytest.mark.parametrize(
    "text",
    [
        "",
        "TKT-",
        "TKT-1",
        "TKT-001",
        "TKT-00a1",
        "TKT0001",
        "TKT 0001",
        "ABC-0001",
        "TKT-0001-extra",
        "xTKT-0001",
        "TKT--001",
        "TKT-\u0661\u0662\u0663\u0664",  # Arabic-Indic digits are not a ref
    ],
)
def test_parse_ref_rejects_invalid_text(text: str) -> None:
    assert parse_ref(text) is None


@pytest.mark.parametrize("number", [1, 9, 999, 1000, 9999, 10000, 987654])
def test_parse_ref_inverts_format_ref(number: int) -> None:
    assert parse_ref(format_ref(number)) == number


# --- titles ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "title"),
    [
        ("Printer on fire", "Printer on fire"),
        ("  Printer\t on \n  fire  ", "Printer on fire"),
        ("", "(no subject)"),
        (" \t\n ", "(no subject)"),
    ],
)
def test_title_from_subject(subject: str, title: str) -> None:
    assert title_from_subject(subject) == title


def test_title_from_subject_truncates_at_200_characters() -> None:
    assert title_from_subject("x" * 200) == "x" * 200
    assert title_from_subject("y" * 201) == "y" * 200
    assert title_from_subject("z" * 5000) == "z" * 200


def test_title_from_subject_folds_before_truncating() -> None:
    subject = "   " + "ab  " * 100  # 400 characters of content once folded to "ab ab ..."
    title = title_from_subject(subject)
    assert title == ("ab " * 100)[:200]
    assert len(title) == 200


# --- open_ticket ----------------------------------------------------------------------------


def test_open_ticket_from_an_email_request() -> None:
    request = NewTicket(
        title="Printer on fire",
        description="It is really on fire.",
        source=Source.EMAIL,
        requester=REQUESTER,
        priority=Priority.HIGH,
        type=TicketType.BUG,
        category="hardware",
        tags=("printer", "fire", "printer", "urgent", "fire"),
        email_thread_id="<root@example.com>",
    )

    ticket = open_ticket(request, ticket_id="t-1", number=42, customer_id="cust-7", now=NOW)

    assert ticket.id == "t-1"
    assert ticket.ref == "TKT-0042"
    assert ticket.title == "Printer on fire"
    assert ticket.description == "It is really on fire."
    assert ticket.status is TicketStatus.OPEN
    assert ticket.priority is Priority.HIGH
    assert ticket.type is TicketType.BUG
    assert ticket.source is Source.EMAIL
    assert ticket.source_email == "alice@example.com"
    assert ticket.category == "hardware"
    assert ticket.tags == ["fire", "printer", "urgent"]
    assert ticket.requester == REQUESTER
    assert ticket.customer_id == "cust-7"
    assert ticket.primary_contact_id == "cust-7"
    assert ticket.contact_ids == ["cust-7"]
    assert ticket.email_thread_id == "<root@example.com>"
    assert ticket.assignee_ids == []
    assert ticket.assigned_team is None
    assert ticket.escalation_level == 0
    assert ticket.archived is False
    assert ticket.version == 1
    assert ticket.created_at == NOW
    assert ticket.updated_at == NOW


@pytest.mark.parametrize("source", [Source.PORTAL, Source.CHAT, Source.PHONE, Source.API, Source.MANUAL])
def test_open_ticket_sets_source_email_only_for_email_source(source: Source) -> None:
    request = NewTicket(title="Hi", description="", source=source, requester=REQUESTER)

    ticket = open_ticket(request, ticket_id="t-2", number=1, customer_id=None, now=NOW)

    assert ticket.source is source
    assert ticket.source_email is None
    assert ticket.requester == REQUESTER


def test_open_ticket_without_requester_or_customer() -> None:
    request = NewTicket(title="Internal task", description="", source=Source.MANUAL, requester=None)

    ticket = open_ticket(request, ticket_id="t-3", number=10000, customer_id=None, now=NOW)

    assert ticket.ref == "TKT-10000"
    assert ticket.requester is None
    assert ticket.source_email is None
    assert ticket.customer_id is None
    assert ticket.primary_contact_id is None
    assert ticket.contact_ids == []
    assert ticket.priority is Priority.MEDIUM
    assert ticket.type is TicketType.SUPPORT
    assert ticket.tags == []


def test_open_ticket_rejects_number_zero() -> None:
    request = NewTicket(title="x", description="", source=Source.API, requester=None)
    with pytest.raises(ValueError, match="start at 1"):
        open_ticket(request, ticket_id="t-4", number=0, customer_id=None, now=NOW)


# --- from an inbound email ------------------------------------------------------------------


SUPPORT = "support@help.example.test"


def test_new_ticket_from_email() -> None:
    request = new_ticket_from_email(inbound_event(), support_address=SUPPORT)

    assert request == NewTicket(
        title="Printer on fire",
        description="It is really on fire.",
        source=Source.EMAIL,
        requester=REQUESTER,
        priority=Priority.MEDIUM,
        type=TicketType.SUPPORT,
        category=None,
        tags=(),
        email_thread_id="<root@example.com>",
    )


def test_new_ticket_from_email_without_subject() -> None:
    assert (
        new_ticket_from_email(inbound_event(subject="   "), support_address=SUPPORT).title == "(no subject)"
    )


def test_people_copied_become_contacts_but_not_the_support_mailbox_or_the_sender() -> None:
    event = inbound_event().model_copy(
        update={
            "recipients": ["support+TKT-0001@help.example.test", "colleague@example.com"],
            "cc": ["boss@example.com", "SUPPORT@help.example.test", REQUESTER.email, "boss@example.com"],
        }
    )
    request = new_ticket_from_email(event, support_address=SUPPORT)
    assert [person.email for person in request.cc] == ["boss@example.com", "colleague@example.com"]


def test_inbound_interaction_is_a_customer_visible_email() -> None:
    event = inbound_event()

    interaction = inbound_interaction(event, interaction_id="i-1", now=NOW)

    assert interaction.id == "i-1"
    assert interaction.type is InteractionType.EMAIL_INBOUND
    assert interaction.customer_visible is True
    assert interaction.author == REQUESTER
    assert interaction.body_text == "It is really on fire."
    assert interaction.message_id == "<m1@example.com>"
    assert interaction.created_at == NOW


# --- touch ----------------------------------------------------------------------------------


def test_touch_bumps_version_and_updated_at_only() -> None:
    request = NewTicket(title="Hi", description="d", source=Source.API, requester=REQUESTER)
    ticket = open_ticket(request, ticket_id="t-5", number=5, customer_id=None, now=NOW)
    later = NOW + timedelta(minutes=5)

    touched = touch(ticket, now=later)
    touched_twice = touch(touched, now=later + timedelta(seconds=1))

    assert touched.version == 2
    assert touched.updated_at == later
    assert touched.created_at == NOW
    assert touched.model_dump(exclude={"version", "updated_at"}) == ticket.model_dump(
        exclude={"version", "updated_at"}
    )
    assert touched_twice.version == 3
    assert touched_twice.updated_at == later + timedelta(seconds=1)
    # The original snapshot is immutable and unchanged.
    assert ticket.version == 1
    assert ticket.updated_at == NOW
