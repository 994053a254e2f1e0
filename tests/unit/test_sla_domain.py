"""Unit tests of the SLA service's pure rules: default policies, new clocks, what agents see.

Time is always injected: no assertion depends on the real clock.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from ticketstream.contracts.events import SlaTarget
from ticketstream.contracts.models import Priority
from ticketstream_sla.domain import (
    DEFAULT_POLICIES,
    AgentStatus,
    Clock,
    ClockState,
    Policy,
    agent_status,
    clocks_for_new_ticket,
    policy_for,
    remaining_seconds,
)

CREATED = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def one_hour_clock(state: ClockState = ClockState.RUNNING) -> Clock:
    return Clock(
        ticket_id="t-1",
        ref="TKT-0001",
        target=SlaTarget.FIRST_RESPONSE,
        policy_id="default-urgent",
        priority=Priority.URGENT,
        started_at=CREATED,
        target_seconds=3600,
        state=state,
    )


# --- policies -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("priority", "policy_id", "first_response", "resolution"),
    [
        (Priority.URGENT, "default-urgent", 1 * HOUR, 4 * HOUR),
        (Priority.HIGH, "default-high", 4 * HOUR, 24 * HOUR),
        (Priority.MEDIUM, "default-medium", 8 * HOUR, 48 * HOUR),
        (Priority.LOW, "default-low", 24 * HOUR, 120 * HOUR),
    ],
)
def test_default_policies(
    priority: Priority, policy_id: str, first_response: timedelta, resolution: timedelta
) -> None:
    policy = policy_for(priority, list(DEFAULT_POLICIES))

    assert policy.id == policy_id
    assert policy.priority is priority
    assert policy.first_response == first_response
    assert policy.resolution == resolution


def test_there_is_exactly_one_default_policy_per_priority() -> None:
    assert sorted(policy.priority for policy in DEFAULT_POLICIES) == sorted(Priority)
    assert len({policy.id for policy in DEFAULT_POLICIES}) == len(DEFAULT_POLICIES) == 4


def test_policy_for_picks_the_first_match_from_the_given_list() -> None:
    custom = Policy("vip-high", "VIP high", Priority.HIGH, timedelta(minutes=30), 2 * HOUR)

    assert policy_for(Priority.HIGH, [custom, *DEFAULT_POLICIES]) is custom
    assert policy_for(Priority.LOW, [custom, *DEFAULT_POLICIES]).id == "default-low"


def test_policy_for_without_a_match_raises_lookup_error() -> None:
    only_low = [policy_for(Priority.LOW, list(DEFAULT_POLICIES))]

    with pytest.raises(LookupError, match="URGENT"):
        policy_for(Priority.URGENT, only_low)
    with pytest.raises(LookupError):
        policy_for(Priority.MEDIUM, [])


# --- clocks for a new ticket ----------------------------------------------------------------


def test_clocks_for_new_ticket_start_first_response_and_resolution() -> None:
    policy = policy_for(Priority.HIGH, list(DEFAULT_POLICIES))

    clocks = clocks_for_new_ticket(
        ticket_id="t-9", ref="TKT-0009", priority=Priority.HIGH, policy=policy, created_at=CREATED
    )

    assert [clock.target for clock in clocks] == [SlaTarget.FIRST_RESPONSE, SlaTarget.RESOLUTION]
    assert [clock.id for clock in clocks] == ["t-9:first_response", "t-9:resolution"]
    assert [clock.target_seconds for clock in clocks] == [4 * 3600, 24 * 3600]
    assert [clock.due_at for clock in clocks] == [
        datetime(2026, 1, 5, 12, 0, tzinfo=UTC),
        datetime(2026, 1, 6, 8, 0, tzinfo=UTC),
    ]
    assert [clock.warning_at for clock in clocks] == [
        datetime(2026, 1, 5, 11, 0, tzinfo=UTC),
        datetime(2026, 1, 6, 2, 0, tzinfo=UTC),
    ]
    for clock in clocks:
        assert clock.ticket_id == "t-9"
        assert clock.ref == "TKT-0009"
        assert clock.policy_id == "default-high"
        assert clock.priority is Priority.HIGH
        assert clock.started_at == CREATED
        assert clock.state is ClockState.RUNNING


def test_policy_without_resolution_target_starts_only_first_response() -> None:
    policy = Policy("respond-only", "Respond only", Priority.LOW, timedelta(minutes=90), None)

    clocks = clocks_for_new_ticket(
        ticket_id="t-2", ref="TKT-0002", priority=Priority.LOW, policy=policy, created_at=CREATED
    )

    assert len(clocks) == 1
    assert clocks[0].target is SlaTarget.FIRST_RESPONSE
    assert clocks[0].id == "t-2:first_response"
    assert clocks[0].target_seconds == 5400
    assert clocks[0].due_at == CREATED + timedelta(minutes=90)


# --- what agents see ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("elapsed", "expected"),
    [
        (timedelta(0), AgentStatus.ON_TRACK),
        (timedelta(minutes=44, seconds=59), AgentStatus.ON_TRACK),
        (timedelta(minutes=45), AgentStatus.WARNING),  # exactly 75 %
        (timedelta(minutes=59, seconds=59), AgentStatus.WARNING),
        (timedelta(hours=1), AgentStatus.BREACHED),  # exactly due
        (timedelta(hours=5), AgentStatus.BREACHED),
    ],
)
def test_agent_status_of_a_running_clock(elapsed: timedelta, expected: AgentStatus) -> None:
    assert agent_status(one_hour_clock(), now=CREATED + elapsed) is expected


def test_warning_starts_just_at_75_percent_not_before() -> None:
    clock = one_hour_clock()
    warning_at = CREATED + timedelta(minutes=45)

    assert agent_status(clock, now=warning_at - timedelta(microseconds=1)) is AgentStatus.ON_TRACK
    assert agent_status(clock, now=warning_at) is AgentStatus.WARNING
    assert agent_status(clock, now=clock.due_at - timedelta(microseconds=1)) is AgentStatus.WARNING
    assert agent_status(clock, now=clock.due_at) is AgentStatus.BREACHED


@pytest.mark.parametrize("now", [CREATED, CREATED + timedelta(minutes=50), CREATED + timedelta(hours=3)])
def test_met_clock_shows_met_whenever_asked(now: datetime) -> None:
    assert agent_status(one_hour_clock(ClockState.MET), now=now) is AgentStatus.MET


@pytest.mark.parametrize("now", [CREATED, CREATED + timedelta(minutes=50), CREATED + timedelta(hours=3)])
def test_paused_clock_shows_paused_whenever_asked(now: datetime) -> None:
    assert agent_status(one_hour_clock(ClockState.PAUSED), now=now) is AgentStatus.PAUSED


def test_breached_state_shows_breached_even_before_due() -> None:
    assert agent_status(one_hour_clock(ClockState.BREACHED), now=CREATED) is AgentStatus.BREACHED


def test_remaining_seconds() -> None:
    clock = one_hour_clock()

    assert remaining_seconds(clock, now=CREATED) == 3600
    assert remaining_seconds(clock, now=CREATED + timedelta(minutes=45)) == 900
    assert remaining_seconds(clock, now=clock.due_at) == 0
    assert remaining_seconds(clock, now=clock.due_at + timedelta(seconds=90)) == -90
    assert remaining_seconds(clock, now=clock.due_at + timedelta(days=1)) == -86400


def test_clock_is_immutable_and_changes_through_replace() -> None:
    clock = one_hour_clock()
    met = replace(clock, state=ClockState.MET)

    assert clock.state is ClockState.RUNNING
    assert met.state is ClockState.MET
    assert met.id == clock.id == "t-1:first_response"
