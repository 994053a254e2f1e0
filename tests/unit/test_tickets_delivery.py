"""Delivery status of outbound emails: ordering of reports and the note an agent gets."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ticketstream.contracts.events import (
    InboundBounceReceived,
    InteractionSummary,
    NotifyDelivered,
    NotifyFailed,
)
from ticketstream.contracts.models import DeliveryStatus, InteractionType, Person, Priority, Source
from ticketstream_tickets import delivery, domain
from ticketstream_tickets.delivery import delivery_report

NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
S = DeliveryStatus


def report(status: DeliveryStatus, detail: str | None = None) -> delivery.DeliveryReport:
    return delivery.DeliveryReport("<m@x>", status, "kim@example.test", detail)


@pytest.mark.parametrize(
    ("current", "incoming", "applies"),
    [
        (None, S.SENT, True),
        (S.SENDING, S.SENT, True),
        (S.SENT, S.BOUNCED, True),
        (S.FAILED, S.BOUNCED, True),
        (S.BOUNCED, S.SENT, False),
        (S.SENT, S.SENT, False),
        (S.FAILED, S.SENT, False),
    ],
)
def test_a_report_never_moves_an_email_back_to_an_earlier_stage(current, incoming, applies) -> None:
    assert delivery.supersedes(report(incoming), current) is applies


def email() -> InteractionSummary:
    return InteractionSummary(
        id="i-1",
        type=InteractionType.EMAIL_OUTBOUND,
        customer_visible=True,
        subject="[TKT-0007] Refund",
        message_id="<m@x>",
        created_at=NOW,
    )


def ticket():
    request = domain.NewTicket(
        title="Refund",
        description="",
        source=Source.API,
        requester=Person(email="kim@example.test"),
        priority=Priority.LOW,
    )
    return domain.open_ticket(request, ticket_id="t-1", number=7, customer_id=None, now=NOW)


def test_a_sent_report_adds_no_note() -> None:
    assert delivery.undeliverable_steps(ticket(), email(), report(S.SENT), note_id="n", now=NOW) == []


@pytest.mark.parametrize(("status", "verb"), [(S.BOUNCED, "bounced"), (S.FAILED, "could not be sent")])
def test_an_undeliverable_email_leaves_a_staff_only_note(status: DeliveryStatus, verb: str) -> None:
    [step] = delivery.undeliverable_steps(
        ticket(), email(), report(status, "550 no such user"), note_id="n", now=NOW
    )

    note = step.event.interaction  # type: ignore[attr-defined]
    assert note.type is InteractionType.SYSTEM and note.customer_visible is False
    assert note.body_text == f'The email "[TKT-0007] Refund" to kim@example.test {verb}: 550 no such user.'
    assert step.ticket.version == 2


def test_events_map_to_reports_only_for_final_news_about_emails_with_a_message_id() -> None:
    common = {"notification_id": "n", "recipient": "kim@example.test", "occurred_at": NOW}
    failed = NotifyFailed(
        channel="email", message_id="<m@x>", error="relay refused", permanent=True, **common
    )
    retrying = failed.model_copy(update={"permanent": False})
    sent = NotifyDelivered(channel="email", message_id="<m@x>", **common)
    in_app = NotifyDelivered(channel="in_app", **common)
    hard_bounce = InboundBounceReceived(
        inbound_id="b",
        bounced_address="kim@example.test",
        original_message_id="<m@x>",
        diagnostic="550 5.1.1 unknown user",
        received_at=NOW,
    )
    delay_notice = hard_bounce.model_copy(update={"permanent": False})
    unmatched_bounce = hard_bounce.model_copy(update={"original_message_id": None})

    assert delivery_report(failed) == delivery.DeliveryReport(
        "<m@x>", S.FAILED, "kim@example.test", "relay refused"
    )
    assert delivery_report(sent) == delivery.DeliveryReport("<m@x>", S.SENT, "kim@example.test")
    assert delivery_report(hard_bounce) == delivery.DeliveryReport(
        "<m@x>", S.BOUNCED, "kim@example.test", "550 5.1.1 unknown user"
    )
    assert delivery_report(retrying) is None
    assert delivery_report(in_app) is None
    assert delivery_report(delay_notice) is None
    assert delivery_report(unmatched_bounce) is None
