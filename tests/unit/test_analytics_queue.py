"""The pure rules of the queue dashboard: what counts, how clock events rank, how rows add up."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers import ticket_snapshot
from ticketstream.contracts import encode_event, parse_event
from ticketstream.contracts.events import (
    SlaBreached,
    SlaClockPaused,
    SlaClockResumed,
    SlaClockRetargeted,
    SlaClockStarted,
    SlaMet,
    SlaTarget,
    SlaWarning,
    TicketUpdated,
)
from ticketstream.contracts.models import TicketSnapshot
from ticketstream_analytics.dashboard import (
    ClockState,
    Measure,
    QueueFold,
    QueueRow,
    QueueSnapshot,
    TicketChange,
    TicketFacts,
    at_risk_bounds,
    at_risk_plan,
    counted_measures,
    counter_deltas,
    counter_shard,
    is_newer,
    next_due_at,
    observe_clock,
    queue_change,
    queue_rows,
    risk_bucket,
    ticket_facts,
    to_milliseconds,
)
from ticketstream_analytics.queue_live import QueueBroadcaster

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _ticket(**changes):
    """A validated snapshot (enums, not strings), as consumers receive it."""
    return TicketSnapshot.model_validate({**ticket_snapshot(ref="TKT-0100").model_dump(), **changes})


@pytest.mark.parametrize(
    ("changes", "is_open"),
    [
        ({"status": "OPEN"}, True),
        ({"status": "IN_PROGRESS"}, True),
        ({"status": "PENDING"}, True),
        ({"status": "WAITING_ON_CUSTOMER"}, True),
        ({"status": "RESOLVED"}, False),
        ({"status": "CLOSED"}, False),
        ({"status": "OPEN", "merged_into": "TKT-0001"}, False),
        ({"status": "OPEN", "archived": True}, False),
    ],
)
def test_a_ticket_is_open_until_resolved_closed_merged_or_archived(changes, is_open):
    assert ticket_facts(_ticket(**changes)).open is is_open


def test_an_open_ticket_counts_as_waiting_and_unassigned_by_its_status_and_assignees():
    waiting = ticket_facts(_ticket(status="WAITING_ON_CUSTOMER", assigned_team="billing", version=4))
    assigned = ticket_facts(_ticket(assignee_ids=["alice"]))
    assert waiting.version == 4 and waiting.team == "billing"
    assert counted_measures(waiting, has_breached_clock=False) == {
        Measure.OPEN,
        Measure.WAITING_ON_CUSTOMER,
        Measure.UNASSIGNED,
    }
    assert counted_measures(assigned, has_breached_clock=True) == {Measure.OPEN, Measure.BREACHED}


def test_a_closed_ticket_counts_nowhere_even_with_a_breached_clock():
    closed = ticket_facts(_ticket(status="CLOSED"))
    assert closed.waiting_on_customer is False and closed.unassigned is False
    assert counted_measures(closed, has_breached_clock=True) == frozenset()


def test_counter_deltas_move_a_ticket_between_teams_and_drop_what_no_longer_applies():
    before = frozenset({Measure.OPEN, Measure.UNASSIGNED})
    after = frozenset({Measure.OPEN, Measure.BREACHED})
    assert counter_deltas(before, None, after, "billing") == {
        (None, Measure.OPEN): -1,
        (None, Measure.UNASSIGNED): -1,
        ("billing", Measure.OPEN): 1,
        ("billing", Measure.BREACHED): 1,
    }
    assert counter_deltas(after, "billing", after, "billing") == {}
    assert counter_deltas(frozenset(), None, before, None) == {
        (None, Measure.OPEN): 1,
        (None, Measure.UNASSIGNED): 1,
    }


def test_counter_shards_are_stable_and_bounded():
    assert counter_shard("ticket-1") == counter_shard("ticket-1")
    assert {counter_shard(f"ticket-{n}") for n in range(200)} == set(range(8))


def _clock_event(kind, *, at=NOW, due_at=NOW + timedelta(hours=1)):
    return kind(
        ticket_id="t1",
        ref="TKT-0100",
        clock_id="c1",
        target=SlaTarget.FIRST_RESPONSE,
        policy_id="default-medium",
        priority="MEDIUM",
        due_at=due_at,
        occurred_at=at,
        **({"target_seconds": 3600} if kind in (SlaClockStarted, SlaClockRetargeted) else {}),
    )


@pytest.mark.parametrize(
    ("kind", "due_at", "state"),
    [
        (SlaClockStarted, NOW, ClockState.RUNNING),
        (SlaClockResumed, NOW, ClockState.RUNNING),
        (SlaWarning, NOW, ClockState.RUNNING),
        (SlaClockRetargeted, NOW, ClockState.RUNNING),
        (SlaClockRetargeted, None, ClockState.PAUSED),
        (SlaClockPaused, None, ClockState.PAUSED),
        (SlaBreached, NOW, ClockState.BREACHED),
        (SlaMet, NOW, ClockState.MET),
    ],
)
def test_each_clock_event_names_the_state_it_leaves_the_clock_in(kind, due_at, state):
    observation = observe_clock(_clock_event(kind, due_at=due_at), event_id="e")
    assert observation is not None and observation.state is state
    assert observation.running_due_at == (due_at if state is ClockState.RUNNING else None)


def test_the_later_event_wins_and_a_tie_goes_to_the_later_step():
    started = observe_clock(_clock_event(SlaClockStarted), event_id="b")
    paused = observe_clock(_clock_event(SlaClockPaused, due_at=None), event_id="a")
    resumed = observe_clock(_clock_event(SlaClockResumed, at=NOW + timedelta(minutes=5)), event_id="c")
    assert started and paused and resumed
    assert is_newer(paused, started.order) and not is_newer(started, paused.order)
    assert is_newer(resumed, paused.order)
    assert is_newer(started, None)
    assert not is_newer(started, started.order), "the same observation again changes nothing"


def test_observations_compare_at_the_millisecond_precision_the_database_keeps():
    precise = NOW + timedelta(microseconds=123_456)
    observation = observe_clock(_clock_event(SlaClockStarted, at=precise), event_id="e")
    assert observation is not None
    assert observation.occurred_at == to_milliseconds(precise) == NOW + timedelta(milliseconds=123)


def test_at_risk_means_due_after_now_and_within_two_hours():
    start, end = at_risk_bounds(NOW)
    assert (start, end) == (NOW, NOW + timedelta(hours=2))


def test_the_next_due_time_is_the_earliest_running_one():
    assert next_due_at([NOW + timedelta(hours=3), None, NOW + timedelta(minutes=5)]) == NOW + timedelta(
        minutes=5
    )
    assert next_due_at([None]) is None


def test_due_times_fall_into_five_minute_slices():
    assert risk_bucket(NOW + timedelta(minutes=7, seconds=59, milliseconds=999)) == NOW + timedelta(minutes=5)
    assert risk_bucket(NOW + timedelta(minutes=10)) == NOW + timedelta(minutes=10)


def _in_plan(plan, due: datetime) -> int:
    """How many parts of the plan count a ticket due at `due` (exactly one, or none)."""
    whole = int(plan.full_from <= risk_bucket(due) < plan.full_until)
    return whole + sum(after < due <= up_to for after, up_to in plan.edges)


@pytest.mark.parametrize("offset", [timedelta(0), timedelta(minutes=2, seconds=13, milliseconds=7)])
def test_the_at_risk_plan_counts_every_due_time_of_the_window_once_and_nothing_else(offset):
    now = NOW + offset
    plan = at_risk_plan(now)
    assert plan.full_until - plan.full_from <= timedelta(hours=2)
    step = timedelta(seconds=17, milliseconds=1)
    due = now - timedelta(minutes=10)
    while due < now + timedelta(hours=2, minutes=10):
        expected = int(now < due <= now + timedelta(hours=2))
        assert _in_plan(plan, due) == expected, due
        due += step
    for edge in (
        now,
        now + timedelta(milliseconds=1),
        now + timedelta(hours=2),
        plan.full_from,
        plan.full_until,
    ):
        assert _in_plan(plan, edge) == int(now < edge <= now + timedelta(hours=2)), edge
        assert _in_plan(plan, edge - timedelta(milliseconds=1)) == int(
            now < edge - timedelta(milliseconds=1) <= now + timedelta(hours=2)
        ), edge


def test_rows_add_counter_shards_and_at_risk_tickets_per_team_with_no_team_last():
    counters = [
        ("support", Measure.OPEN, 3),
        ("support", Measure.OPEN, 2),
        (None, Measure.OPEN, 1),
        (None, Measure.UNASSIGNED, 1),
        ("billing", Measure.OPEN, 0),
        ("billing", Measure.BREACHED, 0),
        ("alpha", Measure.WAITING_ON_CUSTOMER, 1),
        ("alpha", Measure.OPEN, 1),
    ]
    rows = queue_rows(counters, [("support", 1), (None, 1), ("support", 1), ("billing", 0)])
    assert rows == (
        QueueRow(team="alpha", open=1, waiting_on_customer=1),
        QueueRow(team="support", open=5, at_risk=2),
        QueueRow(team=None, open=1, at_risk=1, unassigned=1),
    )
    snapshot = QueueSnapshot(as_of=NOW, rows=rows)
    assert snapshot.totals == {
        "open": 7,
        "waiting_on_customer": 1,
        "at_risk": 3,
        "breached": 0,
        "unassigned": 1,
    }
    assert snapshot.for_team("support").rows == (QueueRow(team="support", open=5, at_risk=2),)
    assert snapshot.for_team("nobody").totals["open"] == 0
    assert snapshot.for_team(None) is snapshot
    assert snapshot.same_numbers(QueueSnapshot(as_of=NOW + timedelta(hours=1), rows=rows))
    assert not snapshot.same_numbers(snapshot.for_team("alpha"))


class FakeDashboard:
    """Stands in for the database-backed dashboard: a change mark and rows set by the test."""

    def __init__(self) -> None:
        self.mark = 0
        self.rows: tuple[QueueRow, ...] = ()
        self.snapshots_taken = 0

    async def change_mark(self) -> tuple[str, int]:
        return "g0", self.mark

    async def snapshot(self) -> QueueSnapshot:
        self.snapshots_taken += 1
        return QueueSnapshot(as_of=NOW, rows=self.rows)


async def test_the_broadcaster_publishes_only_changed_numbers_and_only_while_someone_listens():
    dashboard = FakeDashboard()
    broadcaster = QueueBroadcaster(dashboard, poll_seconds=0.01, refresh_seconds=3600, heartbeat_seconds=1)
    task = asyncio.create_task(broadcaster.run())
    try:
        await asyncio.sleep(0.05)
        assert dashboard.snapshots_taken == 0, "nobody listens: no database reads"
        with broadcaster.listening():
            first = await broadcaster.next_snapshot(after=0, timeout=2)
            dashboard.mark += 1  # a change elsewhere that leaves the numbers as they were
            quiet = await broadcaster.next_snapshot(after=1, timeout=0.1)
            dashboard.rows = (QueueRow(team="support", open=1),)
            dashboard.mark += 1
            changed = await broadcaster.next_snapshot(after=1, timeout=2)
        assert broadcaster.listeners == 0
    finally:
        task.cancel()
    assert first is not None and first[0] == 1 and first[1].rows == ()
    assert quiet is None
    assert changed is not None and changed[0] == 2 and changed[1].rows == dashboard.rows
    assert dashboard.snapshots_taken == 3


def _envelope(event, event_id: str):
    message = encode_event(event, service="tests", key=event.ticket_id, event_id=event_id)
    return parse_event(message.headers, message.value)


def _ticket_update(version: int, **changes):
    ticket = _ticket(id="t1", version=version, **changes)  # the ticket of _clock_event
    return TicketUpdated(
        ticket_id=ticket.id, ref=ticket.ref, sequence=version, actor="system", occurred_at=NOW, ticket=ticket
    )


def test_an_event_tells_the_queue_a_ticket_version_a_clock_state_or_nothing():
    ticket = queue_change(_envelope(_ticket_update(3, assigned_team="billing"), "e1"))
    clock = queue_change(_envelope(_clock_event(SlaBreached), "e2"))
    warned = queue_change(_envelope(_clock_event(SlaWarning), "e3"))
    assert isinstance(ticket, TicketChange) and ticket.facts.version == 3 and ticket.facts.team == "billing"
    assert clock is not None and not isinstance(clock, TicketChange) and clock.state is ClockState.BREACHED
    assert clock.event_id == "e2"
    assert warned is not None and not isinstance(warned, TicketChange) and warned.state is ClockState.RUNNING


def test_the_rebuild_fold_keeps_the_newest_version_and_observation_in_any_order():
    changes = [
        queue_change(_envelope(event, f"e{n}"))
        for n, event in enumerate(
            [
                _ticket_update(1),
                _ticket_update(3, status="WAITING_ON_CUSTOMER"),
                _ticket_update(2, assigned_team="billing"),
                _clock_event(SlaClockStarted),
                _clock_event(SlaClockPaused, at=NOW + timedelta(minutes=5), due_at=None),
                _clock_event(SlaClockResumed, at=NOW + timedelta(minutes=9)),
            ]
        )
    ]
    outcomes = set()
    for order in itertools.permutations(changes):
        fold = QueueFold()
        for change in [*order, order[0]]:  # and one delivered twice
            assert change is not None
            fold.add(change)
        [(ticket_id, facts)] = fold.tickets.items()
        [clock] = fold.clocks.values()
        outcomes.add((ticket_id, facts, clock.state, clock.occurred_at))
    assert outcomes == {
        (
            "t1",
            ticket_facts(_ticket(version=3, status="WAITING_ON_CUSTOMER")),
            ClockState.RUNNING,
            NOW + timedelta(minutes=9),
        )
    }


def test_a_ticket_known_only_by_its_clocks_gets_an_entry_that_counts_nowhere():
    fold = QueueFold()
    observation = observe_clock(_clock_event(SlaBreached), event_id="e")
    assert observation is not None
    fold.add(observation)
    assert fold.tickets == {"t1": TicketFacts()}
    assert counted_measures(fold.tickets["t1"], has_breached_clock=True) == frozenset()
