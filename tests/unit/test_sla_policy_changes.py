"""What an administrator's policy or calendar change does to existing clocks
(ticketstream_sla.domain.on_policy_change and on_calendar_change). Pure, injected times.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from ticketstream.contracts.events import SlaClockRetargeted, SlaTarget
from ticketstream.contracts.models import Priority
from ticketstream_sla import clocks
from ticketstream_sla.business_hours import BusinessCalendar, shifts_on
from ticketstream_sla.calendars import built_in
from ticketstream_sla.clocks import Clock, ClockChange, ClockState
from ticketstream_sla.domain import on_calendar_change, on_policy_change
from ticketstream_sla.policies import Policy

BERLIN = ZoneInfo("Europe/Berlin")
ALWAYS = built_in()
OFFICE = BusinessCalendar(
    id="berlin-office",
    name="Berlin office",
    time_zone="Europe/Berlin",
    shifts=shifts_on(range(5), time(9), time(17)),
)
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
HOUR = 3600
HIGH = Policy(
    "gold-high", "Gold high", Priority.HIGH, first_response_seconds=4 * HOUR, resolution_seconds=24 * HOUR
)


def berlin(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=BERLIN)


def new_clock(
    *,
    target: SlaTarget = SlaTarget.FIRST_RESPONSE,
    calendar: BusinessCalendar = ALWAYS,
    at: datetime = T0,
    target_seconds: int = 4 * HOUR,
) -> Clock:
    return clocks.start_clock(
        ticket_id="t-policy",
        ref="TKT-0300",
        target=target,
        policy_id=HIGH.id,
        policy_version=HIGH.version,
        priority=Priority.HIGH,
        target_seconds=target_seconds,
        warning_fraction=0.75,
        calendar=calendar,
        now=at,
    )


def edited(policy: Policy = HIGH, **changes: object) -> Policy:
    """The next version of `policy` with `changes`."""
    return replace(policy, version=policy.version + 1, **changes)


# --- on_policy_change --------------------------------------------------------------------------


def test_a_running_clock_moves_to_the_new_target_keeping_what_it_counted() -> None:
    clock = new_clock()
    now = T0 + timedelta(hours=1)

    reaction = on_policy_change(
        clock, edited(first_response_seconds=2 * HOUR), ALWAYS, counted_on=ALWAYS, now=now
    )

    [changed] = reaction.clocks
    assert changed.state is ClockState.RUNNING
    assert (changed.target_seconds, changed.counted_seconds, changed.running_since) == (2 * HOUR, HOUR, now)
    assert (changed.policy_id, changed.policy_version, changed.priority) == ("gold-high", 2, Priority.HIGH)
    assert changed.due_at == T0 + timedelta(hours=2)
    assert changed.warning_at == T0 + timedelta(hours=1, minutes=30)  # 75 % of 2 h
    assert changed.generation == clock.generation + 1
    assert changed.history[-1] == ClockChange(now, "retargeted", "HIGH: target 7200 s")
    assert changed.elapsed(ALWAYS, now=now + timedelta(minutes=10)) == HOUR + 600
    assert reaction.events == [
        SlaClockRetargeted(
            ticket_id="t-policy",
            ref="TKT-0300",
            clock_id="t-policy:first_response",
            target=SlaTarget.FIRST_RESPONSE,
            policy_id="gold-high",
            priority=Priority.HIGH,
            due_at=T0 + timedelta(hours=2),
            occurred_at=now,
            target_seconds=2 * HOUR,
        )
    ]
    assert reaction.events[0].event_type == "sla.clock_retargeted"


def test_a_longer_target_moves_the_due_time_later() -> None:
    clock = new_clock(target=SlaTarget.RESOLUTION, target_seconds=24 * HOUR)

    reaction = on_policy_change(
        clock, edited(resolution_seconds=48 * HOUR), ALWAYS, counted_on=ALWAYS, now=T0 + timedelta(hours=30)
    )

    [event] = reaction.events
    assert event.due_at == T0 + timedelta(hours=48)
    assert event.target_seconds == 48 * HOUR


def test_a_target_already_used_up_is_due_at_once() -> None:
    now = T0 + timedelta(hours=3)

    reaction = on_policy_change(
        new_clock(), edited(first_response_seconds=HOUR), ALWAYS, counted_on=ALWAYS, now=now
    )

    [changed] = reaction.clocks
    assert changed.due_at == now
    assert changed.remaining(ALWAYS, now=now) == -2 * HOUR


def test_a_paused_clock_takes_the_new_target_and_stays_paused() -> None:
    clock = clocks.pause(new_clock(), ALWAYS, now=T0 + timedelta(hours=1))

    reaction = on_policy_change(
        clock, edited(first_response_seconds=8 * HOUR), ALWAYS, counted_on=ALWAYS, now=T0 + timedelta(hours=5)
    )

    [changed] = reaction.clocks
    assert changed.state is ClockState.PAUSED
    assert (changed.target_seconds, changed.counted_seconds, changed.running_since) == (8 * HOUR, HOUR, None)
    assert (changed.due_at, changed.warning_at) == (None, None)
    assert [(e.event_type, e.due_at) for e in reaction.events] == [("sla.clock_retargeted", None)]


def test_moving_to_another_calendar_with_the_same_target_is_a_change() -> None:
    clock = new_clock(at=berlin(2026, 3, 2, 9))
    now = berlin(2026, 3, 2, 10)  # both calendars counted 09:00-10:00 alike

    reaction = on_policy_change(clock, edited(calendar_id=OFFICE.id), OFFICE, counted_on=ALWAYS, now=now)

    [changed] = reaction.clocks
    assert changed.calendar_id == "berlin-office"
    assert changed.counted_seconds == HOUR
    assert changed.due_at == berlin(2026, 3, 2, 13)  # 3 h left, within Monday's hours


@pytest.mark.parametrize(
    "stop",
    [
        lambda clock: clocks.meet(clock, ALWAYS, now=T0 + timedelta(hours=1)),
        lambda clock: clocks.cancel(clock, now=T0 + timedelta(hours=1), reason="archived"),
        lambda clock: clocks.breach(clock, now=T0 + timedelta(hours=4)),
    ],
    ids=["met", "cancelled", "breached"],
)
def test_a_stopped_clock_keeps_its_target(stop) -> None:
    clock = stop(new_clock())

    reaction = on_policy_change(
        clock, edited(first_response_seconds=HOUR), ALWAYS, counted_on=ALWAYS, now=T0 + timedelta(hours=5)
    )

    assert (reaction.clocks, reaction.events) == ([], [])


def test_a_new_version_with_the_same_target_and_calendar_changes_nothing() -> None:
    reaction = on_policy_change(
        new_clock(), edited(name="Renamed", warning_fraction=0.5), ALWAYS, counted_on=ALWAYS, now=T0
    )

    assert (reaction.clocks, reaction.events) == ([], [])


def test_a_policy_that_dropped_the_target_leaves_the_clock_alone() -> None:
    resolution = new_clock(target=SlaTarget.RESOLUTION, target_seconds=24 * HOUR)
    next_response = new_clock(target=SlaTarget.NEXT_RESPONSE, target_seconds=2 * HOUR)

    without_resolution = on_policy_change(
        resolution, edited(resolution_seconds=None), ALWAYS, counted_on=ALWAYS, now=T0
    )
    without_next_response = on_policy_change(
        next_response, edited(first_response_seconds=HOUR), ALWAYS, counted_on=ALWAYS, now=T0
    )

    assert HIGH.next_response_seconds is None
    assert (without_resolution.clocks, without_resolution.events) == ([], [])
    assert (without_next_response.clocks, without_next_response.events) == ([], [])


# --- on_calendar_change ------------------------------------------------------------------------


def test_a_running_clock_is_rescheduled_on_the_edited_hours() -> None:
    monday_nine = berlin(2026, 3, 2, 9)
    clock = new_clock(calendar=OFFICE, at=monday_nine, target_seconds=16 * HOUR)
    assert clock.due_at == berlin(2026, 3, 3, 17)  # Monday and Tuesday, 8 h each
    closed_tuesday = replace(OFFICE, holidays=frozenset({date(2026, 3, 3)}))
    now = berlin(2026, 3, 2, 10)

    reaction = on_calendar_change(clock, closed_tuesday, previous=OFFICE, now=now)

    [changed] = reaction.clocks
    assert changed.due_at == berlin(2026, 3, 4, 17)  # Tuesday closed: Wednesday
    # The warning at 12 h of 16: 1 h counted, 7 h more on Monday, 4 h on Wednesday.
    assert changed.warning_at == berlin(2026, 3, 4, 13)
    assert (changed.counted_seconds, changed.target_seconds, changed.calendar_id) == (
        HOUR,
        16 * HOUR,
        OFFICE.id,
    )
    assert (changed.policy_id, changed.policy_version, changed.priority) == (
        clock.policy_id,
        clock.policy_version,
        clock.priority,
    )
    assert changed.generation == clock.generation + 1
    assert [(e.event_type, e.due_at, e.target_seconds) for e in reaction.events] == [
        ("sla.clock_retargeted", berlin(2026, 3, 4, 17), 16 * HOUR)
    ]


def test_a_paused_clock_is_not_rescheduled_until_it_resumes() -> None:
    clock = clocks.pause(new_clock(calendar=OFFICE), OFFICE, now=T0 + timedelta(hours=1))

    reaction = on_calendar_change(
        clock, replace(OFFICE, holidays=frozenset({date(2026, 3, 3)})), previous=OFFICE, now=T0
    )

    assert (reaction.clocks, reaction.events) == ([], [])


def test_a_stopped_clock_is_not_rescheduled() -> None:
    met = clocks.meet(new_clock(calendar=OFFICE), OFFICE, now=T0 + timedelta(hours=1))

    reaction = on_calendar_change(
        met, replace(OFFICE, holidays=frozenset({date(2026, 3, 3)})), previous=OFFICE, now=T0
    )

    assert (reaction.clocks, reaction.events) == ([], [])
