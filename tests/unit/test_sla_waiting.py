"""Timed automations of a ticket waiting on its customer (ticketstream_sla.waiting).

Pure: ticket events are built in memory and every instant is injected.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from ticketstream.contracts.events import (
    SlaWaitingAutoCloseDue,
    SlaWaitingEvent,
    SlaWaitingReminderDue,
    TicketArchived,
    TicketCreated,
    TicketEvent,
    TicketMerged,
    TicketStatusChanged,
    TicketUpdated,
)
from ticketstream.contracts.models import Priority, Source, TicketSnapshot, TicketStatus
from ticketstream_sla.timers import Timer, TimerKind, TimerSubject
from ticketstream_sla.waiting import QuietPeriods, Waiting, on_ticket_event, on_timer

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PERIODS = QuietPeriods(reminder_after=timedelta(days=1), close_after=timedelta(days=2))
OFF = QuietPeriods(reminder_after=timedelta(), close_after=timedelta(days=2))
WAITING = TicketStatus.WAITING_ON_CUSTOMER
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)


class Ticket:
    """One ticket with a unique id and ref, and its events at chosen instants."""

    def __init__(self) -> None:
        self.id = f"t-{uuid.uuid4().hex[:12]}"
        self.ref = f"TKT-{uuid.uuid4().int % 10**6:06d}"
        self.version = 0

    def _common(self, status: TicketStatus, at: datetime) -> dict:
        self.version += 1
        snapshot = TicketSnapshot(
            id=self.id,
            ref=self.ref,
            title="Printer on fire",
            status=status,
            priority=Priority.HIGH,
            source=Source.EMAIL,
            version=self.version,
            created_at=T0,
            updated_at=at,
        )
        return {
            "ticket_id": self.id,
            "ref": self.ref,
            "sequence": self.version,
            "occurred_at": at,
            "ticket": snapshot,
        }

    def status_changed(self, came_from: TicketStatus, to: TicketStatus, at: datetime) -> TicketStatusChanged:
        return TicketStatusChanged(**self._common(to, at), from_status=came_from, to_status=to)

    def updated(self, status: TicketStatus, at: datetime) -> TicketUpdated:
        return TicketUpdated(**self._common(status, at), changed_fields=["tags"])

    def merged(self, status: TicketStatus, at: datetime) -> TicketMerged:
        return TicketMerged(**self._common(status, at), merged_into="t-survivor")

    def archived(self, status: TicketStatus, at: datetime) -> TicketArchived:
        return TicketArchived(**self._common(status, at))

    def starts_waiting(self, at: datetime, current: Waiting | None = None) -> Waiting:
        event = self.status_changed(TicketStatus.OPEN, WAITING, at)
        waiting = on_ticket_event(event, current, periods=PERIODS, now=at)
        assert waiting is not None
        return waiting


def fire(waiting: Waiting, kind: TimerKind, *, now: datetime) -> tuple[Waiting, SlaWaitingEvent]:
    """A timer of the waiting's own generation that is expected to do something."""
    result = on_timer(waiting, kind, generation=waiting.generation, now=now)
    assert result is not None, f"{kind.value} did nothing"
    return result


# --- on_ticket_event: starting -----------------------------------------------------------------


def test_going_waiting_on_customer_starts_the_quiet_periods_from_now() -> None:
    ticket = Ticket()
    event = ticket.status_changed(TicketStatus.OPEN, WAITING, T0)

    waiting = on_ticket_event(event, None, periods=PERIODS, now=T0)

    assert waiting == Waiting(
        ticket_id=ticket.id,
        ref=ticket.ref,
        since=T0,
        remind_at=T0 + timedelta(days=1),
        close_at=T0 + timedelta(days=3),
        reminded=False,
        done=False,
        generation=1,
    )


def test_the_start_is_measured_from_now_not_from_when_the_event_occurred() -> None:
    ticket = Ticket()
    event = ticket.status_changed(TicketStatus.OPEN, WAITING, T0)
    later = T0 + timedelta(minutes=5)

    waiting = on_ticket_event(event, None, periods=PERIODS, now=later)

    assert waiting is not None
    assert (waiting.since, waiting.remind_at, waiting.close_at) == (
        later,
        later + timedelta(days=1),
        later + timedelta(days=3),
    )


def test_a_zero_close_period_closes_when_the_reminder_is_due() -> None:
    ticket = Ticket()
    periods = QuietPeriods(reminder_after=timedelta(hours=4), close_after=timedelta())

    waiting = on_ticket_event(
        ticket.status_changed(TicketStatus.OPEN, WAITING, T0), None, periods=periods, now=T0
    )

    assert waiting is not None
    assert waiting.remind_at == waiting.close_at == T0 + timedelta(hours=4)


def test_disabled_quiet_periods_never_start_waiting() -> None:
    ticket = Ticket()

    assert OFF.enabled is False
    assert (
        on_ticket_event(ticket.status_changed(TicketStatus.OPEN, WAITING, T0), None, periods=OFF, now=T0)
        is None
    )


def test_disabled_quiet_periods_leave_an_earlier_waiting_as_it_was() -> None:
    ticket = Ticket()
    done = on_ticket_event(
        ticket.status_changed(WAITING, TicketStatus.OPEN, T0 + timedelta(hours=1)),
        ticket.starts_waiting(T0),
        periods=PERIODS,
        now=T0 + timedelta(hours=1),
    )
    event = ticket.status_changed(TicketStatus.OPEN, WAITING, T0 + timedelta(hours=2))

    assert on_ticket_event(event, done, periods=OFF, now=T0 + timedelta(hours=2)) is done


def test_a_second_start_bumps_the_generation_and_restarts_the_periods() -> None:
    ticket = Ticket()
    first = ticket.starts_waiting(T0)
    reminded, _ = fire(first, TimerKind.REMINDER, now=first.remind_at)
    again_at = T0 + timedelta(days=2)

    second = ticket.starts_waiting(again_at, current=reminded)

    assert second == Waiting(
        ticket_id=ticket.id,
        ref=ticket.ref,
        since=again_at,
        remind_at=again_at + timedelta(days=1),
        close_at=again_at + timedelta(days=3),
        reminded=False,
        done=False,
        generation=2,
    )


def test_starting_again_after_leaving_continues_the_generations() -> None:
    ticket = Ticket()
    waiting = ticket.starts_waiting(T0)
    left = on_ticket_event(
        ticket.status_changed(WAITING, TicketStatus.OPEN, T0 + timedelta(hours=1)),
        waiting,
        periods=PERIODS,
        now=T0 + timedelta(hours=1),
    )
    assert left is not None and left.generation == 2

    again = ticket.starts_waiting(T0 + timedelta(hours=2), current=left)

    assert (again.generation, again.done) == (3, False)


# --- on_ticket_event: leaving ------------------------------------------------------------------


def test_the_customer_reply_reopening_the_ticket_ends_waiting_and_bumps_the_generation() -> None:
    ticket = Ticket()
    waiting = ticket.starts_waiting(T0)
    event = ticket.status_changed(WAITING, TicketStatus.OPEN, T0 + timedelta(hours=3))

    after = on_ticket_event(event, waiting, periods=PERIODS, now=T0 + timedelta(hours=3))

    assert after is not None
    assert (after.done, after.generation) == (True, 2)
    assert (after.since, after.remind_at, after.close_at) == (
        waiting.since,
        waiting.remind_at,
        waiting.close_at,
    )
    assert after.timer() is None


def test_a_merge_ends_waiting_whatever_status_the_snapshot_shows() -> None:
    ticket = Ticket()
    waiting = ticket.starts_waiting(T0)

    after = on_ticket_event(ticket.merged(WAITING, T0 + timedelta(hours=1)), waiting, periods=PERIODS, now=T0)

    assert after is not None
    assert (after.done, after.generation) == (True, 2)


def test_archiving_ends_waiting_whatever_status_the_snapshot_shows() -> None:
    ticket = Ticket()
    waiting = ticket.starts_waiting(T0)

    after = on_ticket_event(
        ticket.archived(WAITING, T0 + timedelta(hours=1)), waiting, periods=PERIODS, now=T0
    )

    assert after is not None
    assert (after.done, after.generation) == (True, 2)


def test_an_edit_that_keeps_the_ticket_waiting_changes_nothing() -> None:
    ticket = Ticket()
    waiting = ticket.starts_waiting(T0)

    after = on_ticket_event(
        ticket.updated(WAITING, T0 + timedelta(hours=1)),
        waiting,
        periods=PERIODS,
        now=T0 + timedelta(hours=1),
    )

    assert after is waiting


def test_leaving_twice_bumps_the_generation_once() -> None:
    ticket = Ticket()
    left = on_ticket_event(
        ticket.status_changed(WAITING, TicketStatus.OPEN, T0 + timedelta(hours=1)),
        ticket.starts_waiting(T0),
        periods=PERIODS,
        now=T0 + timedelta(hours=1),
    )

    again = on_ticket_event(
        ticket.status_changed(TicketStatus.OPEN, TicketStatus.IN_PROGRESS, T0 + timedelta(hours=2)),
        left,
        periods=PERIODS,
        now=T0 + timedelta(hours=2),
    )

    assert again is left


def test_events_of_a_ticket_that_never_waited_leave_nothing() -> None:
    ticket = Ticket()
    event = ticket.status_changed(TicketStatus.OPEN, TicketStatus.IN_PROGRESS, T0)

    assert on_ticket_event(event, None, periods=PERIODS, now=T0) is None


# --- on_timer ----------------------------------------------------------------------------------


def test_the_reminder_is_due_once_then_the_auto_close() -> None:
    ticket = Ticket()
    waiting = ticket.starts_waiting(T0)

    first = on_timer(waiting, TimerKind.REMINDER, generation=1, now=waiting.remind_at)
    assert first is not None
    reminded, reminder = first
    repeated = on_timer(reminded, TimerKind.REMINDER, generation=1, now=waiting.remind_at)
    second = on_timer(reminded, TimerKind.AUTO_CLOSE, generation=1, now=waiting.close_at)
    assert second is not None
    closed, auto_close = second

    assert reminded == Waiting(
        ticket.id, ticket.ref, T0, T0 + timedelta(days=1), T0 + timedelta(days=3), reminded=True, generation=1
    )
    assert reminder == SlaWaitingReminderDue(
        ticket_id=ticket.id,
        ref=ticket.ref,
        waiting_since=T0,
        close_at=T0 + timedelta(days=3),
        occurred_at=T0 + timedelta(days=1),
    )
    assert reminder.event_type == "sla.waiting_reminder_due"
    assert repeated is None
    assert (closed.done, closed.reminded, closed.generation) == (True, True, 1)
    assert auto_close == SlaWaitingAutoCloseDue(
        ticket_id=ticket.id, ref=ticket.ref, waiting_since=T0, occurred_at=T0 + timedelta(days=3)
    )
    assert auto_close.event_type == "sla.waiting_auto_close_due"
    assert on_timer(closed, TimerKind.AUTO_CLOSE, generation=1, now=waiting.close_at) is None


def test_an_auto_close_before_the_reminder_does_nothing() -> None:
    waiting = Ticket().starts_waiting(T0)

    assert on_timer(waiting, TimerKind.AUTO_CLOSE, generation=1, now=waiting.close_at) is None


def test_a_timer_of_an_earlier_waiting_period_does_nothing() -> None:
    ticket = Ticket()
    first = ticket.starts_waiting(T0)
    second = ticket.starts_waiting(T0 + timedelta(hours=1), current=first)

    assert on_timer(second, TimerKind.REMINDER, generation=first.generation, now=first.remind_at) is None
    assert (
        on_timer(second, TimerKind.REMINDER, generation=second.generation, now=second.remind_at) is not None
    )


def test_a_timer_after_the_ticket_left_waiting_does_nothing_even_with_the_new_generation() -> None:
    ticket = Ticket()
    left = on_ticket_event(
        ticket.status_changed(WAITING, TicketStatus.OPEN, T0 + timedelta(hours=1)),
        ticket.starts_waiting(T0),
        periods=PERIODS,
        now=T0 + timedelta(hours=1),
    )
    assert left is not None

    for generation in (1, left.generation):
        assert on_timer(left, TimerKind.REMINDER, generation=generation, now=left.remind_at) is None
        assert on_timer(left, TimerKind.AUTO_CLOSE, generation=generation, now=left.close_at) is None


# --- Waiting.timer -----------------------------------------------------------------------------


def test_the_timer_is_the_reminder_until_it_has_been_given() -> None:
    ticket = Ticket()
    waiting = ticket.starts_waiting(T0)

    timer = waiting.timer()

    assert timer == Timer(
        TimerSubject.WAITING, ticket.id, ticket.id, TimerKind.REMINDER, T0 + timedelta(days=1), 1
    )
    assert timer.id == f"waiting:{ticket.id}"


def test_after_the_reminder_the_timer_is_the_auto_close_of_the_same_generation() -> None:
    ticket = Ticket()
    waiting = ticket.starts_waiting(T0)
    reminded, _ = fire(waiting, TimerKind.REMINDER, now=waiting.remind_at)

    timer = reminded.timer()

    assert timer == Timer(
        TimerSubject.WAITING, ticket.id, ticket.id, TimerKind.AUTO_CLOSE, T0 + timedelta(days=3), 1
    )


def test_a_done_waiting_has_no_timer() -> None:
    waiting = Ticket().starts_waiting(T0)
    reminded, _ = fire(waiting, TimerKind.REMINDER, now=waiting.remind_at)
    closed, _ = fire(reminded, TimerKind.AUTO_CLOSE, now=waiting.close_at)

    assert closed.timer() is None


# --- property: a timer set before a change never fires after it --------------------------------

CHANGES = st.sampled_from(["wait_again", "reopen", "in_progress", "merge", "archive"])


@PROPERTY_SETTINGS
@given(
    reminded_first=st.booleans(),
    change=CHANGES,
    minutes_later=st.integers(min_value=0, max_value=60 * 24 * 10),
)
def test_a_timer_set_before_the_waiting_changed_is_stale_after_it(
    reminded_first: bool, change: str, minutes_later: int
) -> None:
    ticket = Ticket()
    waiting = ticket.starts_waiting(T0)
    if reminded_first:
        waiting, _ = fire(waiting, TimerKind.REMINDER, now=waiting.remind_at)
    pending = waiting.timer()
    assert pending is not None
    at = T0 + timedelta(minutes=minutes_later)
    event: TicketEvent = {
        "wait_again": lambda: ticket.status_changed(TicketStatus.OPEN, WAITING, at),
        "reopen": lambda: ticket.status_changed(WAITING, TicketStatus.OPEN, at),
        "in_progress": lambda: ticket.status_changed(WAITING, TicketStatus.IN_PROGRESS, at),
        "merge": lambda: ticket.merged(TicketStatus.CLOSED, at),
        "archive": lambda: ticket.archived(TicketStatus.CLOSED, at),
    }[change]()

    after = on_ticket_event(event, waiting, periods=PERIODS, now=at)

    assert after is not None and after is not waiting
    assert after.generation == pending.generation + 1
    assert on_timer(after, pending.kind, generation=pending.generation, now=pending.at) is None


def test_a_ticket_created_waiting_on_its_customer_starts_waiting_at_once() -> None:
    ticket = Ticket()
    created = TicketCreated(**ticket._common(WAITING, T0))
    created_open = TicketCreated(**Ticket()._common(TicketStatus.OPEN, T0))

    waiting = on_ticket_event(created, None, periods=PERIODS, now=T0)

    assert waiting is not None and (waiting.since, waiting.remind_at) == (T0, T0 + timedelta(days=1))
    assert on_ticket_event(created_open, None, periods=PERIODS, now=T0) is None
