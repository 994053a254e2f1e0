"""Why a clock shows what it shows: the stretches of time that counted and those that did not.
No IO here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from ticketstream_sla.business_hours import BusinessCalendar
from ticketstream_sla.clocks import Clock

STARTS_RUNNING = frozenset({"started", "resumed", "reopened"})
# A breach does not stop the count: the overdue time keeps counting until the ticket finishes.
STOPS_RUNNING = frozenset({"paused", "met", "stopped", "cancelled"})
# A clock that ran for months on a business calendar has thousands of open intervals; the
# explanation keeps the latest ones (the totals always cover everything).
MAX_INTERVALS = 500


@dataclass(frozen=True)
class Stretch:
    start: datetime
    end: datetime
    counted: bool
    reason: str

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True)
class Explanation:
    stretches: list[Stretch]
    counted_seconds: float
    truncated: bool


def explain(clock: Clock, calendar: BusinessCalendar, *, now: datetime) -> Explanation:
    stretches = list(_stretches(clock, calendar, now=now))
    counted = sum(stretch.seconds for stretch in stretches if stretch.counted)
    return Explanation(
        stretches=stretches[-MAX_INTERVALS:],
        counted_seconds=counted,
        truncated=len(stretches) > MAX_INTERVALS,
    )


def _stretches(clock: Clock, calendar: BusinessCalendar, *, now: datetime) -> Iterator[Stretch]:
    running_since: datetime | None = None
    stopped: tuple[datetime, str] | None = None
    for change in clock.history:
        if change.change in STARTS_RUNNING and running_since is None:
            if stopped is not None:
                yield Stretch(stopped[0], change.at, False, stopped[1])
                stopped = None
            running_since = change.at
        elif change.change in STOPS_RUNNING and running_since is not None:
            yield from _running(running_since, change.at, calendar)
            running_since = None
            stopped = (change.at, _why_stopped(change.change, change.detail))
        elif change.change in STOPS_RUNNING and stopped is not None and stopped[1].startswith("paused"):
            yield Stretch(stopped[0], change.at, False, stopped[1])  # met or cancelled while paused
            stopped = (change.at, _why_stopped(change.change, change.detail))
    if running_since is not None:
        yield from _running(running_since, now, calendar)
    elif stopped is not None and stopped[1].startswith("paused"):
        yield Stretch(stopped[0], max(now, stopped[0]), False, stopped[1])


def _why_stopped(change: str, detail: str | None) -> str:
    return f"{change} ({detail})" if detail else change


def _running(start: datetime, end: datetime, calendar: BusinessCalendar) -> Iterator[Stretch]:
    """Open intervals count; the gaps between them are outside business hours."""
    cursor = start
    for opens, closes in calendar.open_intervals(start, end):
        if opens > cursor:
            yield Stretch(cursor, opens, False, "outside business hours")
        yield Stretch(opens, closes, True, f"business hours of {calendar.name}")
        cursor = closes
    if end > cursor:
        yield Stretch(cursor, end, False, "outside business hours")
