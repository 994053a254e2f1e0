"""The reports the analytics service should answer, computed independently from the generated
truths (plain Python over `TicketTruth`, sharing no code with the service). Values are shaped
like the JSON the API returns, so a test compares them with `==`."""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.analytics_history import TicketTruth

TARGETS = ("first_response", "resolution")


class Scope:
    def __init__(self, first: date, last: date, tz: str = "UTC", **filters: str) -> None:
        self.first, self.last, self.zone, self.filters = first, last, ZoneInfo(tz), filters

    def params(self) -> dict[str, str]:
        return {
            "from": self.first.isoformat(),
            "to": self.last.isoformat(),
            "tz": self.zone.key,
            **self.filters,
        }

    def header(self) -> dict[str, str]:
        return {"start": self.first.isoformat(), "end": self.last.isoformat(), "tz": self.zone.key}

    def edge(self, day: date) -> datetime:
        return datetime.combine(day, time.min, tzinfo=self.zone)

    def matches(self, t: TicketTruth, *, any_time: bool = False) -> bool:
        f = self.filters
        if not any_time and not (
            self.edge(self.first) <= t.created_at < self.edge(self.last + timedelta(days=1))
        ):
            return False
        checks = [
            ("team", t.team),
            ("priority", t.priority),
            ("category", t.category),
            ("tier", t.tier),
            ("source", t.source),
        ]
        if any(name in f and f[name] != value for name, value in checks):
            return False
        return "agent" not in f or f["agent"] in t.assignees

    def select(self, truths: list[TicketTruth]) -> list[TicketTruth]:
        return [t for t in truths if self.matches(t)]


def _seconds(t: TicketTruth, target: str) -> int | None:
    moment = t.first_response_at if target == "first_response" else t.resolved_at
    return None if moment is None else int((moment - t.created_at).total_seconds())


def _rank(values: list[int], p: int) -> int | None:
    if not values:
        return None
    values = sorted(values)
    return values[max(1, math.ceil(p * len(values) / 100)) - 1]


def _mean(values: list[int]) -> float | None:
    return sum(values) / len(values) if values else None


def _groups(tickets: list[TicketTruth], names: list[str]) -> list[tuple[str, str | None, list[TicketTruth]]]:
    values = {
        "priority": lambda t: [t.priority],
        "team": lambda t: [t.team],
        "agent": lambda t: t.assignees,
        "category": lambda t: [t.category],
        "tier": lambda t: [t.tier],
        "label": lambda t: t.tags,
    }
    out: dict[tuple[str, str | None], list[TicketTruth]] = {("all", None): list(tickets)}
    for name in names:
        for t in tickets:
            for value in set(values[name](t)):
                out.setdefault((name, value), []).append(t)
    return [(d, v, out[(d, v)]) for d, v in sorted(out, key=lambda k: (k[0], k[1] or ""))]


def _within(t: TicketTruth, target: str) -> bool:
    s = _seconds(t, target)
    return s is not None and s < t.targets[target]


def sla(truths: list[TicketTruth], scope: Scope) -> dict[str, Any]:
    tickets = scope.select(truths)
    rates, breaches = [], []
    for dimension, value, members in _groups(tickets, ["priority", "team", "agent", "category", "tier"]):
        for target in TARGETS:
            met = sum(1 for t in members if _within(t, target))
            rates.append(
                {
                    "dimension": dimension,
                    "value": value,
                    "target": target,
                    "tickets": len(members),
                    "within_target": met,
                    "rate": met / len(members) if members else None,
                }
            )
        breached = sum(1 for t in members if t.clock_breached)
        breaches.append(
            {"dimension": dimension, "value": value, "tickets": len(members), "breached": breached}
        )
    outcomes = [
        {
            "target": target,
            "met": sum(1 for t in tickets if target in t.clock_met),
            "missed": sum(1 for t in tickets if target in t.clock_breached),
        }
        for target in TARGETS
    ]
    return {
        **scope.header(),
        "tickets": len(tickets),
        "rates": rates,
        "clock_outcomes": outcomes,
        "breaches": breaches,
    }


def times(truths: list[TicketTruth], scope: Scope) -> dict[str, Any]:
    rows = []
    for dimension, value, members in _groups(scope.select(truths), ["agent", "team", "priority", "label"]):
        for target in TARGETS:
            values = [s for t in members if (s := _seconds(t, target)) is not None]
            rows.append(
                {
                    "dimension": dimension,
                    "value": value,
                    "measure": target,
                    "tickets": len(values),
                    "average_seconds": _mean(values),
                    "p50_seconds": _rank(values, 50),
                    "p90_seconds": _rank(values, 90),
                }
            )
    return {**scope.header(), "rows": rows}


def _bucket(day: date, interval: str) -> date:
    if interval == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1) if interval == "month" else day


def volume(truths: list[TicketTruth], scope: Scope, interval: str) -> dict[str, Any]:
    buckets: dict[date, dict[str, int]] = {}
    totals: dict[str, int] = {}
    tickets = scope.select(truths)
    for t in tickets:
        start = _bucket(t.created_at.astimezone(scope.zone).date(), interval)
        bucket = buckets.setdefault(start, {})
        bucket[t.source] = bucket.get(t.source, 0) + 1
        totals[t.source] = totals.get(t.source, 0) + 1
    return {
        **scope.header(),
        "interval": interval,
        "total": len(tickets),
        "by_source": dict(sorted(totals.items())),
        "buckets": [
            {"start": start.isoformat(), "created": sum(b.values()), "by_source": dict(sorted(b.items()))}
            for start, b in sorted(buckets.items())
        ],
    }


def backlog(truths: list[TicketTruth], scope: Scope) -> dict[str, Any]:
    tickets = [t for t in truths if scope.matches(t, any_time=True)]
    points = []
    for offset in range((scope.last - scope.first).days + 1):
        day = scope.first + timedelta(days=offset)
        end = scope.edge(day + timedelta(days=1))
        count = sum(1 for t in tickets if t.created_at < end and not (t.resolved_at and t.resolved_at < end))
        points.append({"day": day.isoformat(), "open": count})
    return {**scope.header(), "points": points}


def agents(truths: list[TicketTruth], scope: Scope) -> dict[str, Any]:
    tickets = scope.select(truths)
    days = (scope.last - scope.first).days + 1
    rows = []
    for agent in sorted({a for t in tickets for a in t.assignees}):
        mine = [t for t in tickets if agent in t.assignees]
        responses = [s for t in mine if (s := _seconds(t, "first_response")) is not None]
        scores = [t.csat for t in mine if t.csat is not None]
        rows.append(
            {
                "agent": agent,
                "handled": len(mine),
                "per_day": len(mine) / days,
                "average_first_response_seconds": _mean(responses),
                "resolution_rate": sum(1 for t in mine if _within(t, "resolution")) / len(mine),
                "csat_responses": len(scores),
                "csat_average": _mean(scores),
            }
        )
    return {**scope.header(), "days": days, "agents": rows}


def csat(truths: list[TicketTruth], scope: Scope) -> dict[str, Any]:
    rated = [t for t in scope.select(truths) if t.csat is not None]

    def rows(label: str, keys: Any) -> list[dict[str, Any]]:
        scores: dict[str | None, list[int]] = {}
        for t in rated:
            for key in keys(t):
                scores.setdefault(key, []).append(t.csat)
        return [
            {label: key, "responses": len(s), "average": _mean(s)}
            for key, s in sorted(scores.items(), key=lambda item: item[0] or "")
        ]

    return {
        **scope.header(),
        "responses": len(rated),
        "average": _mean([t.csat for t in rated if t.csat is not None]),
        "by_agent": rows("agent", lambda t: t.assignees),
        "by_category": rows("category", lambda t: [t.category]),
        "monthly": rows("month", lambda t: [t.created_at.astimezone(scope.zone).strftime("%Y-%m")]),
    }


def detractor_refs(truths: list[TicketTruth], scope: Scope) -> list[tuple[str, int]]:
    flagged = [t for t in scope.select(truths) if t.csat is not None and t.csat <= 2]
    flagged.sort(key=lambda t: (t.csat, t.created_at, t.ref))
    return [(t.ref, t.csat) for t in flagged if t.csat is not None]


def notes_ratio(truths: list[TicketTruth], scope: Scope) -> dict[str, Any]:
    tickets = scope.select(truths)
    teams: dict[str | None, list[int]] = {}
    people: dict[str | None, list[int]] = {}
    for t in tickets:
        counts = teams.setdefault(t.team, [0, 0])
        counts[0] += len(t.note_authors)
        counts[1] += len(t.reply_authors)
        for author in t.note_authors:
            people.setdefault(author, [0, 0])[0] += 1
        for author in t.reply_authors:
            people.setdefault(author, [0, 0])[1] += 1

    def rows(label: str, groups: dict[str | None, list[int]]) -> list[dict[str, Any]]:
        return [
            {label: key, "internal_notes": n, "public_replies": r, "ratio": n / r if r else None}
            for key, (n, r) in sorted(groups.items(), key=lambda item: item[0] or "")
        ]

    notes = sum(len(t.note_authors) for t in tickets)
    replies = sum(len(t.reply_authors) for t in tickets)
    return {
        **scope.header(),
        "internal_notes": notes,
        "public_replies": replies,
        "ratio": notes / replies if replies else None,
        "by_team": rows("team", teams),
        "by_agent": rows("agent", people),
    }
