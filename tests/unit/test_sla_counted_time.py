"""Time already counted stays counted: re-targets count the past on the calendar it ran on, and
`explain` agrees with `Clock.elapsed` for clocks stopped while paused and for breached clocks."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from ticketstream.contracts.events import SlaTarget, TicketCreated, TicketUpdated
from ticketstream.contracts.models import Priority, Source, TicketSnapshot, TicketStatus
from ticketstream_sla import clocks
from ticketstream_sla.business_hours import BusinessCalendar, shifts_on
from ticketstream_sla.calendars import built_in
from ticketstream_sla.clocks import Clock
from ticketstream_sla.domain import on_calendar_change, on_policy_change, on_ticket_event
from ticketstream_sla.explain import Stretch, explain
from ticketstream_sla.policies import Policy

BERLIN = ZoneInfo("Europe/Berlin")
ALWAYS = built_in()
OFFICE = BusinessCalendar(
    id="berlin-office",
    name="Berlin office",
    time_zone="Europe/Berlin",
    shifts=shifts_on(range(5), time(9), time(17)),
)
HOUR = 3600
OFFICE_HIGH = Policy(
    "office-high", "High, office hours", Priority.HIGH, 8 * HOUR, 40 * HOUR, calendar_id=OFFICE.id
)


def berlin(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=BERLIN)


def office_clock(*, at: datetime, target_seconds: int) -> Clock:
    return clocks.start_clock(
        ticket_id="t-bugs",
        ref="TKT-0900",
        target=SlaTarget.FIRST_RESPONSE,
        policy_id=OFFICE_HIGH.id,
        policy_version=1,
        priority=Priority.HIGH,
        target_seconds=target_seconds,
        warning_fraction=0.75,
        calendar=OFFICE,
        now=at,
    )


# --- re-targeting keeps what was counted on the old calendar ------------------------------------


def test_a_calendar_edit_does_not_recount_the_evening_the_old_hours_did_not_count() -> None:
    # Monday 09:00-20:00 on 09:00-17:00 hours: 8 h counted. At 20:00 the calendar opens round the clock.
    clock = office_clock(at=berlin(2026, 3, 2, 9), target_seconds=16 * HOUR)
    now = berlin(2026, 3, 2, 20)
    assert clock.elapsed(OFFICE, now=now) == 8 * HOUR
    round_the_clock = BusinessCalendar(
        id=OFFICE.id,
        name=OFFICE.name,
        time_zone="Europe/Berlin",
        shifts=shifts_on(range(7), time(0), time(0)),
    )

    [changed] = on_calendar_change(clock, round_the_clock, previous=OFFICE, now=now).clocks

    assert changed.counted_seconds == 8 * HOUR
    assert changed.due_at == berlin(2026, 3, 3, 4)


def test_moving_a_policy_to_24x7_does_not_count_the_weekend_already_past() -> None:
    # Friday 16:00 to Monday 10:00 on office hours: 2 h of an 8 h first-response target used.
    clock = office_clock(at=berlin(2026, 3, 6, 16), target_seconds=8 * HOUR)
    now = berlin(2026, 3, 9, 10)
    assert clock.elapsed(OFFICE, now=now) == 2 * HOUR
    moved = Policy("office-high", "High, 24x7", Priority.HIGH, 8 * HOUR, 40 * HOUR, version=2)

    [changed] = on_policy_change(clock, moved, ALWAYS, counted_on=OFFICE, now=now).clocks

    assert changed.counted_seconds == 2 * HOUR
    assert changed.due_at == berlin(2026, 3, 9, 16)


def test_raising_the_priority_to_a_24x7_policy_does_not_count_the_weekend_already_past() -> None:
    created_at, now = berlin(2026, 3, 6, 16), berlin(2026, 3, 9, 10)
    urgent_always = Policy("always-urgent", "Urgent, 24x7", Priority.URGENT, 4 * HOUR, 16 * HOUR)

    def ticket(priority: Priority, version: int, at: datetime) -> TicketSnapshot:
        return TicketSnapshot(
            id="t-bugs",
            ref="TKT-0900",
            title="Site down",
            status=TicketStatus.OPEN,
            priority=priority,
            source=Source.EMAIL,
            version=version,
            created_at=created_at,
            updated_at=at,
        )

    created = TicketCreated(
        ticket_id="t-bugs",
        ref="TKT-0900",
        sequence=1,
        occurred_at=created_at,
        ticket=ticket(Priority.HIGH, 1, created_at),
    )
    running = {
        c.target: c
        for c in on_ticket_event(created, {}, policy=OFFICE_HIGH, calendar=OFFICE, now=created_at).clocks
    }
    raised = TicketUpdated(
        ticket_id="t-bugs",
        ref="TKT-0900",
        sequence=2,
        occurred_at=now,
        ticket=ticket(Priority.URGENT, 2, now),
    )

    reaction = on_ticket_event(
        raised, running, policy=urgent_always, calendar=ALWAYS, clock_calendars={OFFICE.id: OFFICE}, now=now
    )

    # 2 h used on office hours; URGENT allows 4 h first response and 16 h resolution from now on 24x7.
    assert {(c.target, c.counted_seconds, c.due_at) for c in reaction.clocks} == {
        (SlaTarget.FIRST_RESPONSE, 2 * HOUR, berlin(2026, 3, 9, 12)),
        (SlaTarget.RESOLUTION, 2 * HOUR, berlin(2026, 3, 10, 0)),
    }


# --- explain: a clock stopped while paused ends its pause there ---------------------------------


@pytest.mark.parametrize(
    "stop",
    [
        lambda clock, at: clocks.meet(clock, OFFICE, now=at),
        lambda clock, at: clocks.cancel(clock, now=at, reason="archived"),
    ],
    ids=["met while paused", "cancelled while paused"],
)
def test_explain_ends_the_pause_of_a_clock_stopped_while_paused(stop) -> None:
    # A ticket resolved (or archived) straight from PENDING.
    clock = clocks.pause(
        office_clock(at=berlin(2026, 3, 2, 9), target_seconds=16 * HOUR),
        OFFICE,
        now=berlin(2026, 3, 2, 11),
        reason="ticket PENDING",
    )
    stopped_at = berlin(2026, 3, 2, 15)
    clock = stop(clock, stopped_at)

    explanation = explain(clock, OFFICE, now=berlin(2026, 3, 20, 12))

    assert explanation.stretches[-1] == Stretch(
        berlin(2026, 3, 2, 11), stopped_at, False, "paused (ticket PENDING)"
    )


# --- explain and Clock.elapsed agree about a breached clock --------------------------------------


def test_explain_totals_a_breached_clock_as_clock_elapsed_does() -> None:
    clock = office_clock(at=berlin(2026, 3, 2, 9), target_seconds=16 * HOUR)
    assert clock.due_at == berlin(2026, 3, 3, 17)
    breached = clocks.breach(clock, now=clock.due_at)
    now = berlin(2026, 3, 4, 17)  # one more business day

    explanation = explain(breached, OFFICE, now=now)

    assert explanation.counted_seconds == breached.elapsed(OFFICE, now=now)


def test_a_breached_clock_stops_counting_when_the_ticket_finishes() -> None:
    clock = office_clock(at=berlin(2026, 3, 2, 9), target_seconds=16 * HOUR)
    breached = clocks.breach(clock, now=clock.due_at)
    finished = clocks.stop_counting(breached, OFFICE, now=berlin(2026, 3, 4, 13))

    later = berlin(2026, 3, 20, 12)
    assert finished.elapsed(OFFICE, now=later) == 20 * HOUR
    assert explain(finished, OFFICE, now=later).counted_seconds == 20 * HOUR
    assert finished.due_at == clock.due_at, "the due time it missed stays on record"
