"""Who hears about SLA timing, and the check-in email (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ticketstream.contracts.events import SlaBreached, SlaTarget, SlaWaitingReminderDue, SlaWarning
from ticketstream.contracts.models import Person, Priority, Source, TicketSnapshot, TicketStatus
from ticketstream_notify.domain import MANAGERS, principal_recipients
from ticketstream_notify.sla_notices import Thread, breach_notifications, checkin_email, warning_notifications
from ticketstream_notify.templates import render_default

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def ticket(**changes: object) -> TicketSnapshot:
    base = TicketSnapshot(
        id="t-7",
        ref="TKT-0007",
        title="VPN drops every hour",
        status=TicketStatus.WAITING_ON_CUSTOMER,
        priority=Priority.HIGH,
        source=Source.EMAIL,
        requester=Person(email="kim@example.com", name="Kim"),
        email_thread_id="<root@example.com>",
        assigned_team="network",
        version=3,
        created_at=T0,
        updated_at=T0,
    )
    return base.model_copy(update=changes)


def clock_event(kind: type) -> SlaWarning | SlaBreached:
    return kind(
        ticket_id="t-7",
        ref="TKT-0007",
        clock_id="t-7:resolution",
        target=SlaTarget.RESOLUTION,
        policy_id="default-high",
        priority=Priority.HIGH,
        due_at=T0 + timedelta(hours=24),
        occurred_at=T0 + timedelta(hours=18),
    )


def reminder() -> SlaWaitingReminderDue:
    return SlaWaitingReminderDue(
        ticket_id="t-7",
        ref="TKT-0007",
        waiting_since=T0,
        close_at=T0 + timedelta(days=2),
        occurred_at=T0 + timedelta(days=1),
    )


def test_a_warning_goes_to_the_ticket_s_people_and_a_breach_also_to_the_managers() -> None:
    warned = warning_notifications(ticket(assignee_ids=["dana"]), clock_event(SlaWarning))
    breached = breach_notifications(ticket(), clock_event(SlaBreached))

    assert [n.recipient for n in warned] == ["user:dana"]
    assert warned[0].title == "TKT-0007: resolution due 2026-03-03 09:00 UTC"
    assert [n.recipient for n in breached] == ["team:network", MANAGERS]
    assert {n.kind for n in breached} == {"sla.breached"}


def test_only_managers_and_admins_read_the_managers_address() -> None:
    assert MANAGERS in principal_recipients("mia", [], "manager")
    assert MANAGERS in principal_recipients("ada", [], "admin")
    assert MANAGERS not in principal_recipients("alice", ["support"], "agent")
    assert MANAGERS not in principal_recipients("tom", ["support"], "team_lead")


def test_the_check_in_threads_onto_the_latest_message_and_says_when_the_ticket_closes() -> None:
    thread = Thread(root="<root@example.com>", latest="<reply.3@ticketstream.local>")

    draft = checkin_email(ticket(), reminder(), thread, support_address="support@help.example")

    assert draft is not None
    mail = render_default(draft, brand="Support", support_address="support@help.example")
    assert mail.to == "kim@example.com"
    assert mail.in_reply_to == "<reply.3@ticketstream.local>"
    assert mail.references == ("<root@example.com>", "<reply.3@ticketstream.local>")
    assert mail.reply_to == "support+TKT-0007@help.example"
    assert mail.message_id.endswith("t-7@help.example>")
    assert "2026-03-04 09:00 UTC" in mail.text


def test_no_check_in_for_a_ticket_no_longer_waiting_or_without_a_requester() -> None:
    thread = Thread(root=None, latest=None)

    assert (
        checkin_email(ticket(status=TicketStatus.OPEN), reminder(), thread, support_address="s@x.example")
        is None
    )
    assert checkin_email(ticket(requester=None), reminder(), thread, support_address="s@x.example") is None
    assert thread.headers() == (None, ())
