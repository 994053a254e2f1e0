"""The in-memory read model of the ticket facts: what reports select from. No IO here.

One immutable `TicketFact` per ticket, kept sorted by (created_at, ticket_id) so a report's
range is two binary searches, plus the sorted creation and resolution times of all tickets and
of each filter value, so the backlog (unfiltered or with one filter) is binary searches too.
Values that repeat across tickets (team, agents, targets, outcome sets, ...) are shared between
facts, which keeps memory per ticket small. The selection rules are the database query's
(`AnalyticsStore.facts`), so a report computed from here equals one computed from the database.
"""

from __future__ import annotations

import dataclasses
from bisect import bisect_left, insort
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from ticketstream_analytics.reports import TicketFact

AGENT_FILTER = "assignees"
BULK_CHANGES = 1_000  # matches one of the ticket's agents, like the database query

Shared = TypeVar("Shared", bound=Hashable)
Counter = Callable[[datetime], int]


class _Interner:
    """One shared instance per distinct value (strings, tuples, frozensets, target maps)."""

    def __init__(self) -> None:
        self._values: dict[Any, Any] = {}
        self._targets: dict[tuple[tuple[str, int], ...], dict[str, int]] = {}

    def value(self, value: Shared) -> Shared:
        shared: Shared = self._values.setdefault(value, value)
        return shared

    def strings(self, values: tuple[str, ...]) -> tuple[str, ...]:
        return self.value(tuple(self.value(item) for item in values))

    def targets(self, targets: dict[str, int]) -> dict[str, int]:
        # Facts never mutate their target map, so equal maps can be one object.
        key = tuple(sorted(targets.items()))
        return self._targets.setdefault(key, targets)

    def fact(self, fact: TicketFact) -> TicketFact:
        return dataclasses.replace(
            fact,
            status=self.value(fact.status),
            priority=self.value(fact.priority),
            team=self.value(fact.team),
            assignees=self.strings(fact.assignees),
            category=self.value(fact.category),
            tags=self.strings(fact.tags),
            tier=self.value(fact.tier),
            source=self.value(fact.source),
            targets=self.targets(fact.targets),
            breached=self.value(fact.breached),
            met=self.value(fact.met),
            public_replies=self.strings(fact.public_replies),
            internal_notes=self.strings(fact.internal_notes),
            escalations=self.value(fact.escalations),
        )


def matches(fact: TicketFact, filters: dict[str, str]) -> bool:
    """The database query's filter: snapshot field equals the value; agent is one of the assignees."""
    for name, value in filters.items():
        if name == AGENT_FILTER:
            if value not in fact.assignees:
                return False
        elif getattr(fact, name) != value:
            return False
    return True


class FactIndex:
    """The facts of one generation, sorted by creation; replaced fact by fact as they change."""

    def __init__(self, facts: Iterable[TicketFact] = ()) -> None:
        self._by_id: dict[str, TicketFact] = {}
        self._keys: list[tuple[datetime, str]] = []  # (created_at, ticket_id), sorted
        self._sorted: list[TicketFact] = []  # parallel to _keys
        # Sorted creation and resolution times of every ticket (ALL) and of each filter value.
        self._times: dict[tuple[str, str], EventTimes] = {}
        self._resolved_before_created = 0  # the unfiltered backlog shortcut assumes none
        self._interner = _Interner()
        self.version = 0  # counts the upserts that changed something
        self.upsert(facts)

    def __len__(self) -> int:
        return len(self._by_id)

    def upsert(self, facts: Iterable[TicketFact]) -> int:
        """Store the latest fact of each ticket (a fact equal to the stored one is a no-op)."""
        changed = [fact for fact in facts if self._by_id.get(fact.ticket_id) != fact]
        if len(changed) > max(BULK_CHANGES, len(self._by_id) // 8):
            # Many changes (the first load): sorting everything once beats inserting one by one.
            self._by_id.update((fact.ticket_id, self._interner.fact(fact)) for fact in changed)
            self._rebuild()
        else:
            for fact in changed:
                previous = self._by_id.get(fact.ticket_id)
                if previous is not None:
                    self._remove(previous)
                self._add(self._interner.fact(fact))
        self.version += bool(changed)
        return len(changed)

    def stage(self, facts: Iterable[TicketFact]) -> None:
        """Take facts without ordering them yet (a load in batches); `publish_staged` orders them.
        Selections are wrong in between, so only an index nobody reads yet is staged into."""
        self._by_id.update((fact.ticket_id, self._interner.fact(fact)) for fact in facts)

    def publish_staged(self) -> None:
        """Order what was staged. The facts are copied in creation order, so the facts of a
        report's range lie together in memory: reading 16,500 of them spread over a 200,000-fact
        heap in load order took about twice as long (cache misses), most of the `times` report."""
        ordered = sorted(self._by_id.values(), key=_creation_key)
        self._by_id = {fact.ticket_id: dataclasses.replace(fact) for fact in ordered}
        self._rebuild()
        self.version += 1

    def _rebuild(self) -> None:
        self._sorted = sorted(self._by_id.values(), key=_creation_key)
        self._keys = [(fact.created_at, fact.ticket_id) for fact in self._sorted]
        self._times = defaultdict(EventTimes)
        for fact in self._sorted:
            for key in _time_keys(fact):
                self._times[key].created.append(fact.created_at)
                if fact.open_until is not None:
                    self._times[key].resolved.append(fact.open_until)
        for times in self._times.values():
            times.resolved.sort()  # creation times are already in order
        self._resolved_before_created = sum(
            1 for f in self._sorted if f.open_until is not None and f.open_until < f.created_at
        )

    def _add(self, fact: TicketFact) -> None:
        key = (fact.created_at, fact.ticket_id)
        position = bisect_left(self._keys, key)
        self._keys.insert(position, key)
        self._sorted.insert(position, fact)
        self._by_id[fact.ticket_id] = fact
        for time_key in _time_keys(fact):
            times = self._times.setdefault(time_key, EventTimes())
            insort(times.created, fact.created_at)
            if fact.open_until is not None:
                insort(times.resolved, fact.open_until)
        if fact.open_until is not None:
            self._resolved_before_created += fact.open_until < fact.created_at

    def _remove(self, fact: TicketFact) -> None:
        position = bisect_left(self._keys, (fact.created_at, fact.ticket_id))
        del self._keys[position]
        del self._sorted[position]
        del self._by_id[fact.ticket_id]
        for time_key in _time_keys(fact):
            times = self._times[time_key]
            del times.created[bisect_left(times.created, fact.created_at)]
            if fact.open_until is not None:
                del times.resolved[bisect_left(times.resolved, fact.open_until)]
        if fact.open_until is not None:
            self._resolved_before_created -= fact.open_until < fact.created_at

    def get(self, ticket_id: str) -> TicketFact | None:
        return self._by_id.get(ticket_id)

    def _created_before(self, moment: datetime) -> int:
        return bisect_left(self._keys, (moment,))  # (moment,) sorts before every (moment, id)

    def facts(
        self,
        *,
        created_from: datetime | None,
        created_before: datetime,
        open_at: datetime | None = None,
        filters: dict[str, str],
    ) -> list[TicketFact]:
        """What `AnalyticsStore.facts` answers for the same arguments, in creation order."""
        low = 0 if created_from is None else self._created_before(created_from)
        selected = self._sorted[low : self._created_before(created_before)]
        if open_at is not None:
            selected = [f for f in selected if f.resolved_at is None or f.resolved_at >= open_at]
        if filters:
            selected = [f for f in selected if matches(f, filters)]
        return selected

    def backlog_counters(self, filters: dict[str, str]) -> tuple[Counter, Counter] | None:
        """Counters of the tickets matching `filters` (none or one) created / resolved before a
        moment, for the backlog. None (select and scan instead) for two or more filters, or when
        a ticket resolved before it was created would make them disagree with the database's
        selection (tickets created by the end of the range and not resolved before its start)."""
        if self._resolved_before_created or len(filters) > 1:
            return None
        times = self._times.get(next(iter(filters.items()), ALL), EventTimes())
        return (
            lambda moment: bisect_left(times.created, moment),
            lambda moment: bisect_left(times.resolved, moment),
        )


def _creation_key(fact: TicketFact) -> tuple[datetime, str]:
    return fact.created_at, fact.ticket_id


@dataclass(slots=True)
class EventTimes:
    created: list[datetime] = field(default_factory=list)  # sorted
    resolved: list[datetime] = field(default_factory=list)  # sorted


ALL = ("", "")
FILTERED_FIELDS = ("priority", "team", "category", "tier", "source")


def _time_keys(fact: TicketFact) -> list[tuple[str, str]]:
    """The event-time lists a fact is in: every ticket's and one per filter it matches."""
    keys = [ALL]
    keys.extend((name, value) for name in FILTERED_FIELDS if (value := getattr(fact, name)) is not None)
    keys.extend((AGENT_FILTER, agent) for agent in dict.fromkeys(fact.assignees))
    return keys
