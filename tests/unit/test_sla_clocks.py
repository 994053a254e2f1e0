"""SLA clocks as pure values, on a 24x7 and an office-hours calendar (injected times)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from ticketstream.contracts.events import SlaTarget
from ticketstream.contracts.models import Priority
from ticketstream_sla import clocks
from ticketstream_sla.business_hours import BusinessCalendar, shifts_on, twenty_four_seven_calendar
from ticketstream_sla.clocks import AgentStatus, ClockState, ClockTransitionError

BERLIN = ZoneInfo("Europe/Berlin")
ALWAYS = twenty_four_seven_calendar()
OFFICE = BusinessCalendar(
    id="berlin-office",
    name="Berlin office",
    time_zone="Europe/Berlin",
    shifts=shifts_on(range(5), time(9), time(17)),
    holidays=frozenset({date(2026, 10, 5)}),
)
T0 = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)  # a Thursday, 10:00 in Berlin
HOUR = 3600


def new_clock(
    calendar: BusinessCalendar = ALWAYS, *, target: int = 4 * HOUR, at: datetime = T0
) -> clocks.Clock:
    return clocks.start_clock(
        ticket_id="t1",
        ref="TKT-0001",
        target=SlaTarget.RESOLUTION,
        policy_id="p",
        policy_version=1,
        priority=Priority.HIGH,
        target_seconds=target,
        warning_fraction=0.75,
        calendar=calendar,
        now=at,
    )


def test_a_24x7_clock_is_due_after_its_target_and_warns_at_three_quarters() -> None:
    clock = new_clock()

    assert clock.state is ClockState.RUNNING
    assert clock.due_at == T0 + timedelta(hours=4)
    assert clock.warning_at == T0 + timedelta(hours=3)
    assert clock.id == "t1:resolution"


def test_office_hours_carry_a_friday_afternoon_target_over_the_weekend_and_a_holiday() -> None:
    friday_four_pm = datetime(2026, 10, 2, 16, 0, tzinfo=BERLIN)

    clock = new_clock(OFFICE, target=2 * HOUR, at=friday_four_pm)

    # One hour on Friday; Monday 5 October is a holiday; so the second hour is Tuesday 09:00-10:00.
    assert clock.due_at == datetime(2026, 10, 6, 10, 0, tzinfo=BERLIN)


def test_a_pause_keeps_what_was_counted_and_moves_the_due_time_by_its_length() -> None:
    clock = new_clock()
    paused = clocks.pause(clock, ALWAYS, now=T0 + timedelta(hours=1))
    resumed = clocks.resume(paused, ALWAYS, now=T0 + timedelta(hours=6))

    assert paused.state is ClockState.PAUSED and paused.due_at is None
    assert paused.counted_seconds == HOUR
    assert paused.elapsed(ALWAYS, now=T0 + timedelta(hours=5)) == HOUR, "a paused clock does not count"
    assert resumed.due_at == T0 + timedelta(hours=9)
    assert resumed.warning_at == T0 + timedelta(hours=8)
    assert resumed.generation == clock.generation + 2


def test_retargeting_keeps_the_business_time_already_counted() -> None:
    clock = new_clock(target=8 * HOUR)

    urgent = clocks.retarget(
        clock,
        ALWAYS,
        target_seconds=4 * HOUR,
        priority=Priority.URGENT,
        policy_id="u",
        policy_version=2,
        now=T0 + timedelta(hours=3),
    )
    overdue = clocks.retarget(
        clock,
        ALWAYS,
        target_seconds=2 * HOUR,
        priority=Priority.URGENT,
        policy_id="u",
        policy_version=2,
        now=T0 + timedelta(hours=3),
    )

    assert urgent.due_at == T0 + timedelta(hours=4) and urgent.priority is Priority.URGENT
    assert urgent.warning_at == T0 + timedelta(hours=3), "3 h counted is exactly the new warning point"
    assert overdue.due_at == T0 + timedelta(hours=3), "already past the new target: due at once"
    assert overdue.remaining(ALWAYS, now=T0 + timedelta(hours=3)) == -HOUR


def test_a_met_clock_stops_counting_and_a_reopen_resumes_it() -> None:
    met = clocks.meet(new_clock(), ALWAYS, now=T0 + timedelta(hours=1))
    reopened = clocks.resume(met, ALWAYS, now=T0 + timedelta(days=2))

    assert met.state is ClockState.MET and met.stopped_at == T0 + timedelta(hours=1)
    assert reopened.state is ClockState.RUNNING
    assert reopened.due_at == T0 + timedelta(days=2, hours=3)


def test_warning_then_breach_and_what_agents_see() -> None:
    clock = new_clock()
    warned = clocks.warn(clock, now=T0)
    breached = clocks.breach(warned, now=T0 + timedelta(hours=4))

    assert clocks.agent_status(clock, now=T0 + timedelta(hours=1)) is AgentStatus.ON_TRACK
    assert clocks.agent_status(clock, now=T0 + timedelta(hours=3, minutes=1)) is AgentStatus.WARNING
    assert clocks.agent_status(warned, now=T0 + timedelta(hours=3)) is AgentStatus.WARNING
    assert clocks.agent_status(breached, now=T0 + timedelta(hours=4)) is AgentStatus.BREACHED
    assert breached.breached_at == T0 + timedelta(hours=4)
    with pytest.raises(ClockTransitionError):
        clocks.warn(warned, now=T0)


@pytest.mark.parametrize(
    "change",
    [
        lambda c: clocks.pause(c, ALWAYS, now=T0),
        lambda c: clocks.meet(c, ALWAYS, now=T0),
        lambda c: clocks.cancel(c, now=T0),
        lambda c: clocks.breach(c, now=T0),
        lambda c: clocks.retarget(
            c, ALWAYS, target_seconds=1, priority=Priority.LOW, policy_id="p", policy_version=1, now=T0
        ),
    ],
)
def test_a_stopped_clock_refuses_further_changes(change) -> None:
    cancelled = clocks.cancel(new_clock(), now=T0)

    with pytest.raises(ClockTransitionError):
        change(cancelled)
