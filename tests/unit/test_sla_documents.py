"""The sla service's values and their stored documents (ticketstream_sla.documents).

Pure: each value is turned into its document and back, in memory; no database.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ticketstream.contracts.events import SlaTarget
from ticketstream.contracts.models import Priority, TicketStatus
from ticketstream_sla import clocks
from ticketstream_sla.business_hours import BusinessCalendar, Shift, shifts_on
from ticketstream_sla.calendars import CalendarSpec
from ticketstream_sla.clocks import Clock, ClockChange, ClockState
from ticketstream_sla.documents import (
    calendar_document,
    calendar_spec_of,
    clock_document,
    clock_of,
    policy_document,
    policy_of,
    timer_document,
    timer_of,
    waiting_document,
    waiting_of,
)
from ticketstream_sla.policies import DEFAULT_POLICIES, Policy
from ticketstream_sla.timers import Timer, TimerKind, TimerSubject, clock_timer
from ticketstream_sla.waiting import Waiting

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
OFFICE = BusinessCalendar(
    id="berlin-office",
    name="Berlin office",
    time_zone="Europe/Berlin",
    shifts=shifts_on(range(5), time(9), time(17)),
)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def started() -> Clock:
    return clocks.start_clock(
        ticket_id="t-docs",
        ref="TKT-0100",
        target=SlaTarget.FIRST_RESPONSE,
        policy_id="gold-high",
        policy_version=3,
        priority=Priority.HIGH,
        target_seconds=4 * 3600,
        warning_fraction=0.8,
        calendar=OFFICE,
        now=T0,
    )


def paused() -> Clock:
    return clocks.pause(started(), OFFICE, now=at(1.5), reason="ticket PENDING")


def resumed_and_warned() -> Clock:
    resumed = clocks.resume(paused(), OFFICE, now=at(26))
    return clocks.warn(resumed, now=at(28))


def met_and_reopened() -> Clock:
    met = clocks.meet(started(), OFFICE, now=at(2))
    return clocks.resume(met, OFFICE, now=at(5))


CLOCKS: dict[str, Callable[[], Clock]] = {
    "running": started,
    "paused": paused,
    "resumed and warned": resumed_and_warned,
    "met and reopened": met_and_reopened,
    "retargeted": lambda: clocks.retarget(
        started(),
        OFFICE,
        target_seconds=3600,
        priority=Priority.URGENT,
        policy_id="gold-urgent",
        policy_version=1,
        now=at(0.25),
    ),
    "met": lambda: clocks.meet(started(), OFFICE, now=at(2)),
    "breached": lambda: clocks.breach(started(), now=at(4)),
    "cancelled": lambda: clocks.cancel(paused(), now=at(3), reason="merged into t-other"),
}


# --- clocks ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CLOCKS))
def test_a_clock_round_trips_with_its_history(name: str) -> None:
    clock = CLOCKS[name]()

    assert clock_of(clock_document(clock)) == clock


def test_a_clock_document_is_keyed_by_the_clock_and_keeps_history_in_order() -> None:
    clock = resumed_and_warned()

    document = clock_document(clock)

    assert document["_id"] == "t-docs:first_response"
    assert (document["state"], document["target"], document["priority"]) == (
        "running",
        "first_response",
        "HIGH",
    )
    assert [entry["change"] for entry in document["history"]] == ["started", "paused", "resumed", "warned"]
    assert document["history"][1] == {"at": at(1.5), "change": "paused", "detail": "ticket PENDING"}


def test_ticket_facts_are_stored_beside_the_clock_and_not_read_back_into_it() -> None:
    clock = paused()

    document = clock_document(clock, team="billing", assignee_ids=["u1", "u2"])

    assert (document["team"], document["assignee_ids"]) == ("billing", ["u1", "u2"])
    assert clock_of(document) == clock


def test_a_clock_read_back_has_its_enums_and_history_as_values() -> None:
    clock = clock_of(clock_document(paused()))

    assert clock.state is ClockState.PAUSED
    assert clock.target is SlaTarget.FIRST_RESPONSE
    assert clock.priority is Priority.HIGH
    assert clock.history[-1] == ClockChange(at(1.5), "paused", "ticket PENDING")


# --- timers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "timer",
    [
        Timer(TimerSubject.CLOCK, "t-docs:resolution", "t-docs", TimerKind.BREACH, at(4), 7),
        Timer(TimerSubject.WAITING, "t-docs", "t-docs", TimerKind.AUTO_CLOSE, at(72), 2),
    ],
    ids=["breach", "auto-close"],
)
def test_a_timer_round_trips_and_keeps_its_shard(timer: Timer) -> None:
    document = timer_document(timer, shard=5)

    assert timer_of(document) == timer
    assert (document["_id"], document["shard"]) == (timer.id, 5)


def test_the_timer_a_clock_needs_round_trips() -> None:
    timer = clock_timer(started())
    assert timer is not None

    assert timer_of(timer_document(timer, shard=0)) == timer


# --- policies ----------------------------------------------------------------------------------

GOLD_BILLING = Policy(
    id="gold-billing-high",
    name="Gold billing, high",
    priority=Priority.HIGH,
    first_response_seconds=1800,
    resolution_seconds=4 * 3600,
    next_response_seconds=3600,
    customer_tier="gold",
    category="billing",
    team="finance",
    calendar_id="berlin-office",
    warning_fraction=0.5,
    pause_statuses=frozenset({TicketStatus.PENDING}),
    enabled=False,
    version=4,
)


@pytest.mark.parametrize("policy", [GOLD_BILLING, *DEFAULT_POLICIES], ids=lambda policy: policy.id)
def test_a_policy_round_trips_with_its_pause_statuses_and_conditions(policy: Policy) -> None:
    assert policy_of(policy_document(policy)) == policy


def test_a_policy_without_pause_statuses_round_trips() -> None:
    never_pauses = Policy(
        "never-pauses", "Never pauses", Priority.URGENT, 600, None, pause_statuses=frozenset()
    )

    assert policy_of(policy_document(never_pauses)) == never_pauses


def test_a_policy_document_stores_conditions_and_sorted_pause_statuses() -> None:
    document = policy_document(DEFAULT_POLICIES[0])
    gold = policy_document(GOLD_BILLING)

    assert document["pause_statuses"] == ["PENDING", "WAITING_ON_CUSTOMER"]
    assert (gold["customer_tier"], gold["category"], gold["team"]) == ("gold", "billing", "finance")
    assert policy_of(gold).conditions == {"customer_tier": "gold", "category": "billing", "team": "finance"}


def test_a_kept_version_of_a_policy_is_read_under_its_policy_id() -> None:
    # Old versions are stored with their own _id, the policy's id in policy_id, and when saved.
    kept = {**policy_document(GOLD_BILLING), "_id": "gold-billing-high@4", "policy_id": GOLD_BILLING.id}
    kept["saved_at"] = T0

    assert policy_of(kept) == GOLD_BILLING


# --- calendars ---------------------------------------------------------------------------------

BERLIN_SUPPORT = CalendarSpec(
    id="berlin-support",
    name="Berlin support",
    time_zone="Europe/Berlin",
    shifts=(
        *shifts_on(range(5), time(8, 30), time(17, 45)),
        Shift(5, time(22), time(6)),  # Saturday night into Sunday
        Shift(6, time(10), time(0)),  # Sunday to midnight ("24:00")
    ),
    holidays=frozenset({date(2026, 12, 24), date(2026, 12, 31)}),
    country="DE",
    subdivision="BE",
    version=3,
)


@pytest.mark.parametrize(
    "spec",
    [
        BERLIN_SUPPORT,
        CalendarSpec(id="always", name="Always", twenty_four_seven=True),
        CalendarSpec(
            id="nyc", name="New York", time_zone="America/New_York", shifts=shifts_on([0], time(9), time(17))
        ),
    ],
    ids=["shifts-holidays-country", "24x7", "one-shift"],
)
def test_a_calendar_spec_round_trips(spec: CalendarSpec) -> None:
    assert calendar_spec_of(calendar_document(spec)) == spec


def test_a_calendar_document_writes_wall_times_and_local_dates_as_text() -> None:
    document = calendar_document(BERLIN_SUPPORT)

    assert document["_id"] == "berlin-support"
    assert document["shifts"][0] == {"weekday": 0, "start": "08:30", "end": "17:45"}
    assert document["shifts"][-1] == {"weekday": 6, "start": "10:00", "end": "00:00"}
    assert document["holidays"] == ["2026-12-24", "2026-12-31"]


# --- waiting -----------------------------------------------------------------------------------

WAITINGS = [
    Waiting("t-docs", "TKT-0100", T0, at(24), at(72)),
    Waiting("t-docs", "TKT-0100", T0, at(24), at(72), reminded=True, generation=3),
    Waiting("t-docs", "TKT-0100", T0, at(24), at(24), reminded=True, done=True, generation=9),
]


@pytest.mark.parametrize("waiting", WAITINGS, ids=["waiting", "reminded", "done"])
def test_a_waiting_state_round_trips_inside_its_ticket_document(waiting: Waiting) -> None:
    ticket = {"_id": "t-docs", "ref": "TKT-0100", "sequence": 12, "waiting": waiting_document(waiting)}

    assert waiting_of(ticket) == waiting


def test_a_ticket_that_never_waited_has_no_waiting_state() -> None:
    assert waiting_of({"_id": "t-docs", "ref": "TKT-0100", "sequence": 1}) is None
    assert waiting_of({"_id": "t-docs", "ref": "TKT-0100", "sequence": 1, "waiting": None}) is None


@settings(max_examples=100, deadline=None)
@given(
    since_minutes=st.integers(min_value=0, max_value=10**6),
    remind_minutes=st.integers(min_value=0, max_value=10**4),
    close_minutes=st.integers(min_value=0, max_value=10**4),
    reminded=st.booleans(),
    done=st.booleans(),
    generation=st.integers(min_value=1, max_value=10**6),
)
def test_any_waiting_state_round_trips(
    since_minutes: int, remind_minutes: int, close_minutes: int, reminded: bool, done: bool, generation: int
) -> None:
    since = T0 + timedelta(minutes=since_minutes)
    remind_at = since + timedelta(minutes=remind_minutes)
    waiting = Waiting(
        "t-docs",
        "TKT-0100",
        since,
        remind_at,
        remind_at + timedelta(minutes=close_minutes),
        reminded,
        done,
        generation,
    )

    assert waiting_of({"_id": "t-docs", "ref": "TKT-0100", "waiting": waiting_document(waiting)}) == waiting
