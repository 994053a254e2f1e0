"""Unit tests of notify's pure rules and of how an outgoing email is turned into MIME."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ticketstream.contracts.addressing import plus_address
from ticketstream.contracts.events import InteractionSummary
from ticketstream.contracts.models import (
    InteractionType,
    Person,
    Priority,
    Source,
    TicketSnapshot,
    TicketStatus,
)
from ticketstream_notify.domain import (
    UNASSIGNED_QUEUE,
    InAppNotification,
    OutgoingEmail,
    acknowledgement_email,
    interaction_notifications,
    mails_by_id,
    new_ticket_notifications,
    next_attempt_at,
    principal_recipients,
    retry_delay,
    staff_recipients,
)
from ticketstream_notify.senders import SmtpSender, build_message
from ticketstream_notify.templates import render_default

NOW = datetime(2026, 2, 2, 10, 0, tzinfo=UTC)
SUPPORT = "support@help.example.test"
FOLLOW_URL = "https://desk.example.test/v1/portal/magic/a.b.c"


def ticket(**overrides: Any) -> TicketSnapshot:
    values: dict[str, Any] = {
        "id": "t-42",
        "ref": "TKT-0042",
        "title": "Printer on fire",
        "status": TicketStatus.OPEN,
        "priority": Priority.HIGH,
        "source": Source.EMAIL,
        "requester": Person(email="alice@example.com", name="Alice"),
        "email_thread_id": "<root.alice@example.com>",
        "version": 1,
        "created_at": NOW,
        "updated_at": NOW,
    }
    values.update(overrides)
    return TicketSnapshot.model_validate(values)


# --- who hears about what -------------------------------------------------------------------


def test_staff_recipients_are_the_assignees_first() -> None:
    snapshot = ticket(assignee_ids=["alice", "bob"], assigned_team="support")
    assert staff_recipients(snapshot) == ["user:alice", "user:bob"]


def test_staff_recipients_fall_back_to_the_team() -> None:
    assert staff_recipients(ticket(assigned_team="billing")) == ["team:billing"]


def test_staff_recipients_fall_back_to_the_unassigned_queue() -> None:
    assert staff_recipients(ticket()) == [UNASSIGNED_QUEUE]
    assert UNASSIGNED_QUEUE == "queue:unassigned"


def test_principal_recipients() -> None:
    assert principal_recipients("alice", ["support", "billing"]) == [
        "user:alice",
        "team:support",
        "team:billing",
        "queue:unassigned",
    ]
    assert principal_recipients("bob", []) == ["user:bob", "queue:unassigned"]


def test_every_staff_recipient_is_something_a_principal_reads() -> None:
    """A notification addressed to a team reaches a member of that team."""
    snapshot = ticket(assigned_team="support")
    readable = principal_recipients("carol", ["support"])
    assert set(staff_recipients(snapshot)) <= set(readable)


def test_new_ticket_notifications_one_per_staff_recipient() -> None:
    notifications = new_ticket_notifications(ticket(assignee_ids=["alice", "bob"]))

    assert notifications == [
        InAppNotification(
            recipient=recipient,
            kind="ticket.created",
            title="New ticket TKT-0042: Printer on fire",
            body="High priority, from alice@example.com via email.",
            ref="TKT-0042",
            ticket_id="t-42",
        )
        for recipient in ("user:alice", "user:bob")
    ]


def test_new_ticket_notification_without_requester() -> None:
    (notification,) = new_ticket_notifications(
        ticket(requester=None, source=Source.MANUAL, priority=Priority.LOW)
    )

    assert notification.recipient == UNASSIGNED_QUEUE
    assert notification.body == "Low priority, from an agent via manual."


# --- the customer's acknowledgement ---------------------------------------------------------


def test_plus_address() -> None:
    assert plus_address(SUPPORT, "TKT-0042") == "support+TKT-0042@help.example.test"


def test_acknowledgement_email_is_threaded_with_the_customer_message() -> None:
    draft = acknowledgement_email(ticket(), support_address=SUPPORT, follow_url=FOLLOW_URL)

    assert draft is not None
    mail = render_default(draft, brand="Support", support_address=SUPPORT)
    assert mail.to == "alice@example.com"
    assert mail.subject == "[TKT-0042] We received your request: Printer on fire"
    assert mail.reply_to == "support+TKT-0042@help.example.test"
    assert mail.message_id == "<ack.t-42@help.example.test>"
    assert mail.in_reply_to == "<root.alice@example.com>"
    assert mail.references == ("<root.alice@example.com>",)
    assert mail.ticket_id == "t-42"
    assert mail.ref == "TKT-0042"
    assert mail.kind == "acknowledgement"
    assert mail.text.startswith("Hello Alice,\n")
    assert f"{FOLLOW_URL}\n" in mail.text
    assert "//portal" not in mail.text
    assert "TKT-0042" in mail.text


def test_acknowledgement_email_without_thread_or_name() -> None:
    snapshot = ticket(email_thread_id=None, requester=Person(email="bob@example.com"))

    draft = acknowledgement_email(
        snapshot, support_address=SUPPORT, follow_url="http://x.test/v1/portal/magic/tok"
    )

    assert draft is not None
    mail = render_default(draft, brand="Support", support_address=SUPPORT)
    assert mail.in_reply_to is None
    assert mail.references == ()
    assert mail.text.startswith("Hello there,\n")
    assert "http://x.test/v1/portal/magic/tok" in mail.text


def test_acknowledgement_message_id_domain_comes_from_the_support_address() -> None:
    mail = acknowledgement_email(
        ticket(id="abc"), support_address="help@desk.acme.example", follow_url=FOLLOW_URL
    )
    assert mail is not None
    assert mail.message_id == "<ack.abc@desk.acme.example>"
    assert mail.reply_to == "help+TKT-0042@desk.acme.example"


def test_no_acknowledgement_without_requester() -> None:
    assert (
        acknowledgement_email(ticket(requester=None), support_address=SUPPORT, follow_url=FOLLOW_URL) is None
    )


def first_email(*, auto_submitted: bool) -> InteractionSummary:
    return InteractionSummary(
        id="i-1",
        type=InteractionType.EMAIL_INBOUND,
        customer_visible=True,
        author=Person(email="alice@example.com", name="Alice"),
        body_text="I am out of the office until Monday.",
        auto_submitted=auto_submitted,
        created_at=NOW,
    )


def test_staff_hear_of_a_customer_message_but_not_of_an_auto_reply() -> None:
    assigned = ticket(assignee_ids=["alice"])
    person = interaction_notifications(assigned, first_email(auto_submitted=False))
    machine = interaction_notifications(assigned, first_email(auto_submitted=True))
    assert [(n.recipient, n.kind) for n in person] == [("user:alice", "ticket.customer_replied")]
    assert machine == []


def test_no_acknowledgement_for_a_ticket_opened_from_an_auto_reply() -> None:
    mail = acknowledgement_email(
        ticket(),
        support_address=SUPPORT,
        follow_url=FOLLOW_URL,
        first_interaction=first_email(auto_submitted=True),
    )

    assert mail is None


def test_a_ticket_opened_by_a_person_is_acknowledged() -> None:
    mail = acknowledgement_email(
        ticket(),
        support_address=SUPPORT,
        follow_url=FOLLOW_URL,
        first_interaction=first_email(auto_submitted=False),
    )

    assert mail is not None
    assert mail.to == "alice@example.com" and mail.kind == "acknowledgement"


# --- retries --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempts", "seconds"), [(0, 5), (1, 5), (2, 10), (3, 20), (4, 40), (5, 80), (6, 160)]
)
def test_retry_delay_doubles(attempts: int, seconds: int) -> None:
    assert retry_delay(attempts) == timedelta(seconds=seconds)


def test_next_attempt_at() -> None:
    assert next_attempt_at(NOW, 3) == NOW + timedelta(seconds=20)


# --- MIME -----------------------------------------------------------------------------------


def outgoing(**overrides: Any) -> OutgoingEmail:
    values: dict[str, Any] = {
        "to": "alice@example.com",
        "subject": "[TKT-0042] We received your request: Printer on fire",
        "text": "Hello Alice,\n\nWe have it.\n",
        "message_id": "<ack.t-42@help.example.test>",
        "in_reply_to": "<root.alice@example.com>",
        "references": ("<root.alice@example.com>", "<second@example.com>"),
        "reply_to": "support+TKT-0042@help.example.test",
        "ticket_id": "t-42",
        "ref": "TKT-0042",
        "kind": "acknowledgement",
    }
    values.update(overrides)
    return OutgoingEmail(**values)


def test_two_staff_sharing_a_mailbox_get_one_email_and_the_customer_keeps_theirs() -> None:
    ack = outgoing()
    dana = outgoing(to="Desk@Example.com", kind="ticket.created", message_id="<staff.1.dana@x>")
    lee = outgoing(to="desk@example.com", kind="ticket.created", message_id="<staff.1.lee@x>")
    unique = mails_by_id("evt-1", [ack, dana, lee])
    assert unique == {
        "evt-1:acknowledgement:alice@example.com": ack,
        "evt-1:ticket.created:desk@example.com": dana,
    }


def test_build_message_carries_thread_headers() -> None:
    message = build_message(outgoing(), sender=SUPPORT)

    assert message["From"] == SUPPORT
    assert message["To"] == "alice@example.com"
    assert message["Subject"] == "[TKT-0042] We received your request: Printer on fire"
    assert message["Message-ID"] == "<ack.t-42@help.example.test>"
    assert message["In-Reply-To"] == "<root.alice@example.com>"
    assert message["References"] == "<root.alice@example.com> <second@example.com>"
    assert message["Reply-To"] == "support+TKT-0042@help.example.test"
    assert message["Auto-Submitted"] == "auto-replied"
    assert message["X-Ticketstream-Ref"] == "TKT-0042"
    assert message["Date"] is not None
    assert message.get_content_type() == "text/plain"
    assert message.get_content() == "Hello Alice,\n\nWe have it.\n"


def test_build_message_without_thread_and_for_other_kinds() -> None:
    message = build_message(outgoing(in_reply_to=None, references=(), kind="checkin"), sender=SUPPORT)

    assert "In-Reply-To" not in message
    assert "References" not in message
    assert message["Auto-Submitted"] == "auto-generated"


def test_an_agents_reply_is_not_marked_automatic() -> None:
    message = build_message(outgoing(kind="reply"), sender=SUPPORT)

    assert "Auto-Submitted" not in message


@pytest.mark.parametrize(
    "url", ["http://relay.example.test:25", "mailto:ops@example.test", "relay.example.test:25", "smtp://"]
)
def test_smtp_sender_rejects_urls_that_are_not_smtp(url: str) -> None:
    with pytest.raises(ValueError, match="TICKETSTREAM_SMTP_URL"):
        SmtpSender(url, sender=SUPPORT)


@pytest.mark.parametrize(
    "url", ["smtp://127.0.0.1:1025", "smtps://user:p%40ss@relay.example.test", "smtp://relay.example.test"]
)
def test_smtp_sender_accepts_smtp_urls_without_connecting(url: str) -> None:
    assert isinstance(SmtpSender(url, sender=SUPPORT), SmtpSender)
