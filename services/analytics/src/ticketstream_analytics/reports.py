"""The reports, computed from ticket facts. No IO here.

Definitions (the README repeats them for users):
- first-response rate: tickets whose first_response_at - created_at < the first-response target,
  over the tickets that have such a target; resolution rate: the same with resolved_at.
- percentiles are exact, nearest-rank: the value at rank ceil(p/100 * n) of the sorted values.
- a ticket counts for every agent in its assignee list, and once for "all".
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from operator import attrgetter, is_not
from typing import Any
from zoneinfo import ZoneInfo

from ticketstream_analytics.domain import Interval, bucket_start

FIRST_RESPONSE = "first_response"
RESOLUTION = "resolution"
DETRACTOR_MAX_SCORE = 2  # 1-2 on the 1-5 scale: flagged for manager review
# Bits of a fact's SLA standing: target -> (has that target, within it); and "had a breach".
SLA_TARGET_BITS = {FIRST_RESPONSE: (1, 2), RESOLUTION: (4, 8)}
SLA_BREACHED = 16
CLOSED = "CLOSED"


@dataclass(frozen=True, slots=True)
class TicketFact:
    """One ticket as the reports see it (the latest snapshot plus what the events added)."""

    ticket_id: str
    ref: str
    created_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    status: str
    priority: str
    team: str | None
    assignees: tuple[str, ...]
    category: str | None
    tags: tuple[str, ...]
    tier: str | None
    source: str
    csat_score: int | None
    csat_comment: str | None
    targets: dict[str, int] = field(default_factory=dict)  # target -> seconds
    breached: frozenset[str] = frozenset()
    met: frozenset[str] = frozenset()
    public_replies: tuple[str, ...] = ()  # author ids, one per reply
    internal_notes: tuple[str, ...] = ()  # author ids, one per note
    customer_messages: int = 0
    escalations: tuple[int, ...] = ()  # seconds from creation to each escalation
    reopenings: int = 0
    closed_at: datetime | None = None

    # Derived once per fact (reports ask for them per group and target, thousands of times).
    first_response_seconds: float | None = field(init=False, compare=False, repr=False)
    resolution_seconds: float | None = field(init=False, compare=False, repr=False)
    sla_standing: int = field(init=False, compare=False, repr=False)  # SLA_* bits
    # When the ticket left the backlog: resolved, or closed without being resolved (a waiting
    # ticket the customer never answered is closed straight away).
    open_until: datetime | None = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        # A ticket counts once per agent and label: repeated values go here, not in every report.
        for name in ("assignees", "tags"):
            values = getattr(self, name)
            if len(values) > 1:
                object.__setattr__(self, name, tuple(dict.fromkeys(values)))
        created = self.created_at
        for name, moment in (
            ("first_response_seconds", self.first_response_at),
            ("resolution_seconds", self.resolved_at),
        ):
            object.__setattr__(self, name, None if moment is None else (moment - created).total_seconds())
        standing = SLA_BREACHED if self.breached else 0
        for target, (has_target, within) in SLA_TARGET_BITS.items():
            if target in self.targets:
                standing |= has_target | (within if self.within_target(target) else 0)
        object.__setattr__(self, "sla_standing", standing)
        closed = self.closed_at if self.status == CLOSED else None
        object.__setattr__(self, "open_until", self.resolved_at or closed)

    def seconds_to(self, target: str) -> float | None:
        return self.first_response_seconds if target == FIRST_RESPONSE else self.resolution_seconds

    def within_target(self, target: str) -> bool:
        seconds = self.seconds_to(target)
        return seconds is not None and target in self.targets and seconds < self.targets[target]


def nearest_rank(sorted_values: list[float], percent: int) -> float | None:
    if not sorted_values:
        return None
    rank = max(1, math.ceil(percent / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def average(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


# Dimensions with one value per ticket, and those with a list (a ticket counts once per value).
SINGLE_VALUED = {
    "priority": "priority",
    "team": "team",
    "category": "category",
    "tier": "tier",
    "source": "source",
}
MULTI_VALUED = {"agent": "assignees", "label": "tags"}


def grouped(
    facts: Iterable[TicketFact], names: Iterable[str]
) -> dict[tuple[str, str | None], list[TicketFact]]:
    """Facts per (dimension, value), with ("all", None) holding every fact."""
    facts = list(facts)
    groups: dict[tuple[str, str | None], list[TicketFact]] = {("all", None): facts} if facts else {}
    for name in names:
        members: dict[str | None, list[TicketFact]] = defaultdict(list)
        if name in SINGLE_VALUED:
            value_of = attrgetter(SINGLE_VALUED[name])
            for fact in facts:
                members[value_of(fact)].append(fact)
        else:
            values_of = attrgetter(MULTI_VALUED[name])
            for fact in facts:
                for value in values_of(fact):  # without repeats (see TicketFact)
                    members[value].append(fact)
        groups.update(((name, value), found) for value, found in members.items())
    return groups


def _order(key: tuple[str, str | None]) -> tuple[str, str]:
    return key[0], key[1] or ""


def sla_report(facts: list[TicketFact]) -> dict[str, Any]:
    groups = grouped(facts, ["priority", "team", "agent", "category", "tier"])
    rates = []
    breaches = []
    standing_of = attrgetter("sla_standing")
    for key in sorted(groups, key=_order):
        members = groups[key]
        # How many members have each standing; the counts below are sums over the few standings.
        standings = Counter(map(standing_of, members))
        for target, (has_target, within) in SLA_TARGET_BITS.items():
            with_target = sum(n for bits, n in standings.items() if bits & has_target)
            met = sum(n for bits, n in standings.items() if bits & within)
            rates.append(
                {
                    "dimension": key[0],
                    "value": key[1],
                    "target": target,
                    "tickets": with_target,
                    "within_target": met,
                    "rate": met / with_target if with_target else None,
                }
            )
        breaches.append(
            {
                "dimension": key[0],
                "value": key[1],
                "tickets": len(members),
                "breached": sum(n for bits, n in standings.items() if bits & SLA_BREACHED),
            }
        )
    outcomes = [
        {
            "target": target,
            "met": sum(1 for f in facts if target in f.met and target not in f.breached),
            "missed": sum(1 for f in facts if target in f.breached),
        }
        for target in (FIRST_RESPONSE, RESOLUTION)
    ]
    return {"tickets": len(facts), "rates": rates, "clock_outcomes": outcomes, "breaches": breaches}


# Built-in callables (no Python frame per fact): the times report maps them over thousands of facts.
_SECONDS_OF = {
    FIRST_RESPONSE: attrgetter("first_response_seconds"),
    RESOLUTION: attrgetter("resolution_seconds"),
}
_is_a_value = partial(is_not, None)


def times_report(facts: list[TicketFact]) -> dict[str, Any]:
    groups = grouped(facts, ["agent", "team", "priority", "label"])
    rows = []
    for key in sorted(groups, key=_order):
        members = groups[key]
        for target, seconds_of in _SECONDS_OF.items():
            values = sorted(filter(_is_a_value, map(seconds_of, members)))
            rows.append(
                {
                    "dimension": key[0],
                    "value": key[1],
                    "measure": target,
                    "tickets": len(values),
                    "average_seconds": average(values),
                    "p50_seconds": nearest_rank(values, 50),
                    "p90_seconds": nearest_rank(values, 90),
                }
            )
    return {"rows": rows}


def local_day(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


def volume_report(facts: list[TicketFact], *, interval: Interval, zone: ZoneInfo) -> dict[str, Any]:
    created: dict[date, int] = defaultdict(int)
    sources: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    totals: dict[str, int] = defaultdict(int)
    for fact in facts:
        bucket = bucket_start(local_day(fact.created_at, zone), interval)
        created[bucket] += 1
        sources[bucket][fact.source] += 1
        totals[fact.source] += 1
    buckets = [
        {"start": bucket, "created": created[bucket], "by_source": dict(sorted(sources[bucket].items()))}
        for bucket in sorted(created)
    ]
    return {"total": len(facts), "by_source": dict(sorted(totals.items())), "buckets": buckets}


def backlog_report(facts: list[TicketFact], *, first: date, last: date, zone: ZoneInfo) -> dict[str, Any]:
    """Open tickets at the end of each local day: created by then, not resolved (or closed
    unresolved) by then.

    A ticket leaves the backlog after it was created, so that is (created before the end of the
    day) minus (left before the end of the day), two binary searches per day."""
    created = sorted(f.created_at for f in facts)
    resolved = sorted(f.open_until for f in facts if f.open_until is not None)
    return backlog_points(
        lambda end: bisect_left(created, end), lambda end: bisect_left(resolved, end), first, last, zone
    )


def backlog_points(
    created_before: Callable[[datetime], int],
    resolved_before: Callable[[datetime], int],
    first: date,
    last: date,
    zone: ZoneInfo,
) -> dict[str, Any]:
    """The backlog from counters of tickets created / resolved before a moment."""
    points = []
    day = first
    while day <= last:
        end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=zone)
        points.append({"day": day, "open": created_before(end) - resolved_before(end)})
        day += timedelta(days=1)
    return {"points": points}


def agents_report(facts: list[TicketFact], *, days: int) -> dict[str, Any]:
    rows = []
    groups = grouped(facts, ["agent"])
    for (dimension, agent), handled in sorted(groups.items(), key=lambda item: _order(item[0])):
        if dimension != "agent" or agent is None:
            continue
        responses = [s for f in handled if (s := f.seconds_to(FIRST_RESPONSE)) is not None]
        with_target = [f for f in handled if RESOLUTION in f.targets]
        scores = [f.csat_score for f in handled if f.csat_score is not None]
        rows.append(
            {
                "agent": agent,
                "handled": len(handled),
                "per_day": len(handled) / days,
                "average_first_response_seconds": average(responses),
                "resolution_rate": (
                    sum(1 for f in with_target if f.within_target(RESOLUTION)) / len(with_target)
                    if with_target
                    else None
                ),
                "csat_responses": len(scores),
                "csat_average": average([float(s) for s in scores]),
            }
        )
    return {"days": days, "agents": rows}


def _csat_rows(groups: dict[str | None, list[int]], label: str) -> list[dict[str, Any]]:
    return [
        {label: key, "responses": len(scores), "average": average([float(s) for s in scores])}
        for key, scores in sorted(groups.items(), key=lambda item: item[0] or "")
    ]


def csat_report(facts: list[TicketFact], *, zone: ZoneInfo) -> dict[str, Any]:
    rated = [f for f in facts if f.csat_score is not None]
    by_agent: dict[str | None, list[int]] = defaultdict(list)
    by_category: dict[str | None, list[int]] = defaultdict(list)
    by_month: dict[str | None, list[int]] = defaultdict(list)
    for fact in rated:
        score = fact.csat_score
        assert score is not None
        for agent in fact.assignees:
            by_agent[agent].append(score)
        by_category[fact.category].append(score)
        by_month[local_day(fact.created_at, zone).strftime("%Y-%m")].append(score)
    return {
        "responses": len(rated),
        "average": average([float(f.csat_score) for f in rated if f.csat_score is not None]),
        "by_agent": _csat_rows(by_agent, "agent"),
        "by_category": _csat_rows(by_category, "category"),
        "monthly": _csat_rows(by_month, "month"),
    }


def detractors(facts: list[TicketFact]) -> list[TicketFact]:
    """Rated tickets with a detractor score, worst and oldest first."""
    flagged = [f for f in facts if f.csat_score is not None and f.csat_score <= DETRACTOR_MAX_SCORE]
    return sorted(flagged, key=lambda f: (f.csat_score, f.created_at, f.ref))


def notes_ratio_report(facts: list[TicketFact]) -> dict[str, Any]:
    by_team: dict[str | None, list[int]] = defaultdict(lambda: [0, 0])
    by_agent: dict[str | None, list[int]] = defaultdict(lambda: [0, 0])
    for fact in facts:
        by_team[fact.team][0] += len(fact.internal_notes)
        by_team[fact.team][1] += len(fact.public_replies)
        for author in fact.internal_notes:
            by_agent[author or None][0] += 1
        for author in fact.public_replies:
            by_agent[author][1] += 1

    def rows(groups: dict[str | None, list[int]], label: str) -> list[dict[str, Any]]:
        return [
            {
                label: key,
                "internal_notes": notes,
                "public_replies": replies,
                "ratio": notes / replies if replies else None,
            }
            for key, (notes, replies) in sorted(groups.items(), key=lambda item: item[0] or "")
        ]

    notes = sum(len(f.internal_notes) for f in facts)
    replies = sum(len(f.public_replies) for f in facts)
    return {
        "internal_notes": notes,
        "public_replies": replies,
        "ratio": notes / replies if replies else None,
        "by_team": rows(by_team, "team"),
        "by_agent": rows(by_agent, "agent"),
    }
