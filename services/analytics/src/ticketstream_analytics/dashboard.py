"""Pure rules of the live queue dashboard: what a ticket counts as, and how SLA clocks rank.

No IO here. The store keeps one queue entry per ticket and one clock state per SLA clock; this
module says which counters an entry contributes to, what a clock event means, and which of two
observations of a clock is the newer one, so that duplicates and out-of-order delivery converge.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from ticketstream.contracts import Envelope
from ticketstream.contracts.events import (
    SlaBreached,
    SlaClockCancelled,
    SlaClockPaused,
    SlaClockResumed,
    SlaClockRetargeted,
    SlaClockStarted,
    SlaEvent,
    SlaMet,
    SlaWarning,
    TicketEvent,
)
from ticketstream.contracts.models import TicketSnapshot, TicketStatus

AT_RISK_WINDOW = timedelta(hours=2)
# Statuses in which a ticket still needs work from someone; RESOLVED and CLOSED are done.
OPEN_STATUSES = frozenset(
    {TicketStatus.OPEN, TicketStatus.IN_PROGRESS, TicketStatus.PENDING, TicketStatus.WAITING_ON_CUSTOMER}
)
# Counters are spread over shards (by ticket id) so concurrent consumers rarely write the same
# document: one hot counter per team would make every transaction conflict.
COUNTER_SHARDS = 8
# "At risk" is counted per five-minute slice of due times (per team), so a dashboard request reads
# about 24 slices plus the tickets due in the two partial slices at the window's ends.
RISK_BUCKET = timedelta(minutes=5)
RISK_SHARDS = 4
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


class Measure(StrEnum):
    """The numbers of the dashboard; the status ones are kept as counters."""

    OPEN = "open"
    WAITING_ON_CUSTOMER = "waiting_on_customer"
    AT_RISK = "at_risk"
    BREACHED = "breached"
    UNASSIGNED = "unassigned"


COUNTED_MEASURES = (Measure.OPEN, Measure.WAITING_ON_CUSTOMER, Measure.BREACHED, Measure.UNASSIGNED)


@dataclass(frozen=True)
class TicketFacts:
    """What the queue needs of a ticket, as of its highest version seen (0: known only from SLA)."""

    version: int = 0
    open: bool = False
    waiting_on_customer: bool = False
    unassigned: bool = False
    team: str | None = None


def ticket_facts(ticket: TicketSnapshot) -> TicketFacts:
    """A merged or archived ticket has left the queue whatever its status says."""
    is_open = ticket.status in OPEN_STATUSES and ticket.merged_into is None and not ticket.archived
    return TicketFacts(
        version=ticket.version,
        open=is_open,
        waiting_on_customer=is_open and ticket.status is TicketStatus.WAITING_ON_CUSTOMER,
        unassigned=is_open and not ticket.assignee_ids,
        team=ticket.assigned_team,
    )


def counted_measures(facts: TicketFacts, *, has_breached_clock: bool) -> frozenset[Measure]:
    """The counters a ticket adds one to; a closed ticket counts nowhere."""
    if not facts.open:
        return frozenset()
    counted = {Measure.OPEN}
    if facts.waiting_on_customer:
        counted.add(Measure.WAITING_ON_CUSTOMER)
    if facts.unassigned:
        counted.add(Measure.UNASSIGNED)
    if has_breached_clock:
        counted.add(Measure.BREACHED)
    return frozenset(counted)


CounterKey = tuple[str | None, Measure]


def counter_deltas(
    before: frozenset[Measure], before_team: str | None, after: frozenset[Measure], after_team: str | None
) -> dict[CounterKey, int]:
    """The increments that move a ticket's contribution from (before, team) to (after, team)."""
    deltas: dict[CounterKey, int] = {}
    for measure in before:
        deltas[(before_team, measure)] = deltas.get((before_team, measure), 0) - 1
    for measure in after:
        deltas[(after_team, measure)] = deltas.get((after_team, measure), 0) + 1
    return {key: delta for key, delta in deltas.items() if delta}


def counter_shard(ticket_id: str) -> int:
    """A stable shard for a ticket (crc32, not `hash`, which differs between processes)."""
    return zlib.crc32(ticket_id.encode()) % COUNTER_SHARDS


def risk_shard(ticket_id: str) -> int:
    return counter_shard(ticket_id) % RISK_SHARDS


class ClockState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    BREACHED = "breached"
    MET = "met"
    CANCELLED = "cancelled"


# When two events of one clock carry the same occurred_at (sla publishes clock_started and
# clock_paused of a ticket created while waiting in one reaction), the later step wins.
_RANKS: dict[type[SlaEvent], int] = {
    SlaClockStarted: 0,
    SlaClockRetargeted: 1,
    SlaClockResumed: 2,
    SlaWarning: 2,
    SlaClockPaused: 3,
    SlaBreached: 4,
    SlaMet: 5,
    SlaClockCancelled: 6,
}


@dataclass(frozen=True)
class ClockObservation:
    """One clock as an sla event describes it. `order` compares observations of the same clock."""

    clock_id: str
    ticket_id: str
    target: str
    state: ClockState
    due_at: datetime | None
    occurred_at: datetime
    rank: int
    event_id: str

    @property
    def order(self) -> tuple[datetime, int, str]:
        # The event id breaks the last tie, so every replica and every replay picks the same one.
        return (self.occurred_at, self.rank, self.event_id)

    @property
    def running_due_at(self) -> datetime | None:
        """The due time that can put the ticket at risk: only a running clock has one."""
        return self.due_at if self.state is ClockState.RUNNING else None


def observe_clock(event: SlaEvent, *, event_id: str) -> ClockObservation | None:
    """The clock state an sla event reports; None for events that are not about a clock."""
    rank = _RANKS.get(type(event))
    if rank is None:
        return None
    return ClockObservation(
        clock_id=event.clock_id,
        ticket_id=event.ticket_id,
        target=event.target.value,
        state=_state_after(event),
        due_at=event.due_at,
        occurred_at=to_milliseconds(event.occurred_at),
        rank=rank,
        event_id=event_id,
    )


def to_milliseconds(moment: datetime) -> datetime:
    """The database keeps milliseconds: compare at the precision that is stored, or a stored
    observation would look older than the same moment arriving again."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _state_after(event: SlaEvent) -> ClockState:
    if isinstance(event, SlaClockPaused):
        return ClockState.PAUSED
    if isinstance(event, SlaBreached):
        return ClockState.BREACHED
    if isinstance(event, SlaMet):
        return ClockState.MET
    if isinstance(event, SlaClockCancelled):
        return ClockState.CANCELLED
    # A retarget of a paused clock keeps it paused: sla sends no due time while paused.
    return ClockState.RUNNING if event.due_at is not None else ClockState.PAUSED


def is_newer(candidate: ClockObservation, current_order: tuple[datetime, int, str] | None) -> bool:
    return current_order is None or candidate.order > current_order


@dataclass(frozen=True)
class TicketChange:
    """A ticket event as the queue sees it: the ticket's facts as of that event's version."""

    ticket_id: str
    facts: TicketFacts


def queue_change(envelope: Envelope) -> TicketChange | ClockObservation | None:
    """What an event tells the queue; None for events it does not count."""
    event = envelope.data
    if isinstance(event, TicketEvent):
        return TicketChange(event.ticket.id, ticket_facts(event.ticket))
    if isinstance(event, SlaEvent):
        return observe_clock(event, event_id=envelope.id)
    return None


@dataclass
class QueueFold:
    """The queue folded in memory from a log read in any order, for a rebuild to load in bulk:
    each ticket's highest version and each clock's newest observation, as the live apply keeps.

    A ticket heard of only through its clocks gets an entry too (version 0, counted nowhere), as
    the live apply gives it one, so that its clocks count once the ticket itself arrives."""

    tickets: dict[str, TicketFacts] = field(default_factory=dict)
    clocks: dict[str, ClockObservation] = field(default_factory=dict)

    def add(self, change: TicketChange | ClockObservation) -> None:
        if isinstance(change, TicketChange):
            held = self.tickets.get(change.ticket_id)
            if held is None or change.facts.version > held.version:
                self.tickets[change.ticket_id] = change.facts
            return
        current = self.clocks.get(change.clock_id)
        if is_newer(change, None if current is None else current.order):
            self.clocks[change.clock_id] = change
        self.tickets.setdefault(change.ticket_id, TicketFacts())


@dataclass(frozen=True)
class QueueRow:
    team: str | None
    open: int = 0
    waiting_on_customer: int = 0
    at_risk: int = 0
    breached: int = 0
    unassigned: int = 0

    def numbers(self) -> dict[str, int]:
        return {measure.value: getattr(self, measure.value) for measure in Measure}


def at_risk_bounds(now: datetime) -> tuple[datetime, datetime]:
    """Due times strictly after `now` and at most two hours ahead put a ticket at risk."""
    return now, now + AT_RISK_WINDOW


def next_due_at(running_due_times: Iterable[datetime | None]) -> datetime | None:
    """When the ticket's first running clock falls due; this is the due time "at risk" looks at."""
    return min((due for due in running_due_times if due is not None), default=None)


def risk_bucket(due_at: datetime) -> datetime:
    """The start of the five-minute slice of due times `due_at` is counted in."""
    seconds = int(RISK_BUCKET.total_seconds())
    offset = int((due_at - _EPOCH).total_seconds()) // seconds * seconds
    return _EPOCH + timedelta(seconds=offset)


@dataclass(frozen=True)
class AtRiskPlan:
    """How to count the window (now, now + 2 h] cheaply: whole slices from their counters,
    [full_from, full_until), and the two partial slices at the ends by their tickets' due times,
    each `edges` range being (after, up_to]."""

    full_from: datetime
    full_until: datetime
    edges: tuple[tuple[datetime, datetime], tuple[datetime, datetime]]


def at_risk_plan(now: datetime) -> AtRiskPlan:
    start, end = at_risk_bounds(now)
    full_from = risk_bucket(start) + RISK_BUCKET
    full_until = risk_bucket(end)
    # Due times are kept to the millisecond, so "before full_from" is "at most 1 ms before".
    return AtRiskPlan(
        full_from=full_from,
        full_until=full_until,
        edges=((start, full_from - _MILLISECOND), (full_until - _MILLISECOND, end)),
    )


def queue_rows(
    counters: Iterable[tuple[str | None, Measure, int]], at_risk: Iterable[tuple[str | None, int]]
) -> tuple[QueueRow, ...]:
    """Per-team rows from summed counter shards and at-risk counts (team, count), in pieces.

    Teams whose numbers are all zero are left out; rows are sorted by team, no team last.
    """
    numbers: dict[str | None, dict[str, int]] = {}
    for team, measure, count in counters:
        row = numbers.setdefault(team, {})
        row[measure.value] = row.get(measure.value, 0) + count
    for team, count in at_risk:
        row = numbers.setdefault(team, {})
        row[Measure.AT_RISK.value] = row.get(Measure.AT_RISK.value, 0) + count
    rows = [_row(team, values) for team, values in numbers.items() if any(values.values())]
    return tuple(sorted(rows, key=lambda row: (row.team is None, row.team or "")))


def _row(team: str | None, values: Mapping[str, int]) -> QueueRow:
    return QueueRow(
        team=team,
        open=values.get(Measure.OPEN.value, 0),
        waiting_on_customer=values.get(Measure.WAITING_ON_CUSTOMER.value, 0),
        at_risk=values.get(Measure.AT_RISK.value, 0),
        breached=values.get(Measure.BREACHED.value, 0),
        unassigned=values.get(Measure.UNASSIGNED.value, 0),
    )


def totals(rows: Iterable[QueueRow]) -> dict[str, int]:
    summed = dict.fromkeys((measure.value for measure in Measure), 0)
    for row in rows:
        for name, value in row.numbers().items():
            summed[name] += value
    return summed


@dataclass(frozen=True)
class QueueSnapshot:
    """The dashboard at one moment: per-team rows (no team last) and their totals."""

    as_of: datetime
    rows: tuple[QueueRow, ...]

    def for_team(self, team: str | None) -> QueueSnapshot:
        """Only `team`'s row (a zero row when it has no tickets); `None` keeps every row."""
        if team is None:
            return self
        row = next((row for row in self.rows if row.team == team), QueueRow(team=team))
        return QueueSnapshot(as_of=self.as_of, rows=(row,))

    @property
    def totals(self) -> dict[str, int]:
        return totals(self.rows)

    def same_numbers(self, other: QueueSnapshot | None) -> bool:
        return other is not None and self.rows == other.rows
