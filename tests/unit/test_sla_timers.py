"""Which timer a clock needs next, timer ids, shards and fair shares (ticketstream_sla.timers).

Pure: clocks are built with ticketstream_sla.clocks at injected instants on the 24x7 calendar.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ticketstream.contracts.events import SlaTarget
from ticketstream.contracts.models import Priority
from ticketstream_sla import clocks
from ticketstream_sla.business_hours import twenty_four_seven_calendar
from ticketstream_sla.timers import (
    Timer,
    TimerKind,
    TimerSubject,
    clock_timer,
    fair_share,
    shard_of,
    timer_id,
)

ALWAYS = twenty_four_seven_calendar()
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOUR = 3600
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)
# The CRC-32 check value from the standard: crc32(b"123456789") == 0xCBF43926 == 3421780262.
CRC32_CHECK_INPUT, CRC32_CHECK_VALUE = "123456789", 0xCBF43926


def new_clock(*, target_seconds: int = 4 * HOUR, warning_fraction: float = 0.75) -> clocks.Clock:
    return clocks.start_clock(
        ticket_id="t-timers",
        ref="TKT-0042",
        target=SlaTarget.FIRST_RESPONSE,
        policy_id="default-high",
        policy_version=1,
        priority=Priority.HIGH,
        target_seconds=target_seconds,
        warning_fraction=warning_fraction,
        calendar=ALWAYS,
        now=T0,
    )


# --- clock_timer -----------------------------------------------------------------------------


def test_a_running_clock_that_has_not_warned_needs_its_warning_first() -> None:
    clock = new_clock()

    timer = clock_timer(clock)

    assert timer == Timer(
        subject=TimerSubject.CLOCK,
        subject_id="t-timers:first_response",
        ticket_id="t-timers",
        kind=TimerKind.WARNING,
        at=T0 + timedelta(hours=3),
        generation=1,
    )
    assert timer.id == "clock:t-timers:first_response"


def test_after_the_warning_the_breach_is_next_at_the_due_time() -> None:
    warned = clocks.warn(new_clock(), now=T0 + timedelta(hours=3))

    timer = clock_timer(warned)

    assert timer is not None
    assert (timer.kind, timer.at, timer.generation) == (TimerKind.BREACH, T0 + timedelta(hours=4), 1)


def test_a_warning_that_falls_on_the_due_time_is_not_set_the_breach_is() -> None:
    # warning_fraction 1 puts the warning exactly at the due instant: "before due" is strict.
    clock = new_clock(warning_fraction=1.0)
    assert clock.warning_at == clock.due_at

    timer = clock_timer(clock)

    assert timer is not None
    assert (timer.kind, timer.at) == (TimerKind.BREACH, T0 + timedelta(hours=4))


def test_a_warning_after_the_due_time_is_skipped_for_the_breach() -> None:
    clock = replace(new_clock(), warning_at=T0 + timedelta(hours=5))

    timer = clock_timer(clock)

    assert timer is not None
    assert (timer.kind, timer.at) == (TimerKind.BREACH, T0 + timedelta(hours=4))


def test_a_resumed_clock_sets_its_timer_for_its_new_generation_and_moved_instants() -> None:
    paused = clocks.pause(new_clock(), ALWAYS, now=T0 + timedelta(hours=1))
    resumed = clocks.resume(paused, ALWAYS, now=T0 + timedelta(hours=5))

    timer = clock_timer(resumed)

    # 1 h counted, warning at 3 h of 4 h: 2 h after resuming at T0+5h.
    assert timer is not None
    assert (timer.kind, timer.at, timer.generation) == (TimerKind.WARNING, T0 + timedelta(hours=7), 3)


def test_a_paused_clock_needs_no_timer() -> None:
    assert clock_timer(clocks.pause(new_clock(), ALWAYS, now=T0 + timedelta(hours=1))) is None


def test_a_met_clock_needs_no_timer() -> None:
    assert clock_timer(clocks.meet(new_clock(), ALWAYS, now=T0 + timedelta(hours=1))) is None


def test_a_cancelled_clock_needs_no_timer() -> None:
    assert clock_timer(clocks.cancel(new_clock(), now=T0 + timedelta(hours=1), reason="archived")) is None


def test_a_breached_clock_needs_no_timer_although_it_keeps_its_due_time() -> None:
    breached = clocks.breach(new_clock(), now=T0 + timedelta(hours=4))
    assert breached.due_at is not None  # the guard must be the state, not a missing due time

    assert clock_timer(breached) is None


def test_a_running_clock_without_a_due_time_needs_no_timer() -> None:
    assert clock_timer(replace(new_clock(), due_at=None)) is None


# --- timer_id --------------------------------------------------------------------------------


def test_timer_ids_name_the_subject_kind_and_subject() -> None:
    assert timer_id(TimerSubject.CLOCK, "t1:resolution") == "clock:t1:resolution"
    assert timer_id(TimerSubject.WAITING, "t1") == "waiting:t1"


def test_the_warning_and_breach_timers_of_one_clock_share_an_id_so_one_replaces_the_other() -> None:
    clock = new_clock()
    warning = clock_timer(clock)
    breach = clock_timer(clocks.warn(clock, now=T0 + timedelta(hours=3)))

    assert warning is not None and breach is not None
    assert warning.kind != breach.kind
    assert warning.id == breach.id == timer_id(TimerSubject.CLOCK, clock.id)


def test_timers_of_a_clock_and_of_a_waiting_ticket_never_share_an_id() -> None:
    assert timer_id(TimerSubject.CLOCK, "t1") != timer_id(TimerSubject.WAITING, "t1")


# --- shard_of --------------------------------------------------------------------------------


def test_shards_follow_the_standard_crc32_so_every_process_agrees() -> None:
    # Python's hash() of a str changes per process; CRC-32 is fixed by its standard.
    assert shard_of(CRC32_CHECK_INPUT, 16) == CRC32_CHECK_VALUE % 16 == 6
    assert shard_of(CRC32_CHECK_INPUT, 1000) == 262


def test_one_shard_holds_every_ticket() -> None:
    assert {shard_of(f"t-{n}", 1) for n in range(50)} == {0}


def test_tickets_spread_over_all_shards() -> None:
    assert {shard_of(f"t-{n}", 8) for n in range(200)} == set(range(8))


@PROPERTY_SETTINGS
@given(ticket_id=st.text(min_size=1, max_size=40), shards=st.integers(min_value=1, max_value=4096))
def test_the_shard_is_in_range_and_the_same_for_the_same_ticket(ticket_id: str, shards: int) -> None:
    shard = shard_of(ticket_id, shards)

    assert 0 <= shard < shards
    assert shard_of(ticket_id, shards) == shard


@PROPERTY_SETTINGS
@given(ticket_id=st.text(min_size=1, max_size=40))
def test_the_timers_of_one_ticket_land_on_one_shard(ticket_id: str) -> None:
    warning = Timer(TimerSubject.CLOCK, f"{ticket_id}:resolution", ticket_id, TimerKind.WARNING, T0, 1)
    reminder = Timer(TimerSubject.WAITING, ticket_id, ticket_id, TimerKind.REMINDER, T0, 1)

    assert shard_of(warning.ticket_id, 32) == shard_of(reminder.ticket_id, 32)


# --- fair_share ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shards", "live_replicas", "share"),
    [
        (16, 1, 16),
        (16, 2, 8),
        (16, 3, 6),
        (16, 4, 4),
        (16, 5, 4),
        (16, 16, 1),
        (16, 20, 1),
        (16, 0, 16),  # no replica seen alive (not even this one yet): hold everything
    ],
)
def test_fair_share(shards: int, live_replicas: int, share: int) -> None:
    assert fair_share(shards, live_replicas) == share


@PROPERTY_SETTINGS
@given(shards=st.integers(min_value=1, max_value=1024), live=st.integers(min_value=1, max_value=64))
def test_fair_shares_cover_every_shard_with_no_more_than_needed(shards: int, live: int) -> None:
    share = fair_share(shards, live)

    assert share * live >= shards  # every shard can have an owner
    assert (share - 1) * live < shards  # and one less each would leave some without
