"""Business-hours calendars: when the SLA clock runs. Pure arithmetic, no IO.

A calendar has an IANA time zone, a weekly schedule of shifts, holidays (local dates) or is 24x7.

Time rules every function here promises:
- Shift times are wall-clock times, interpreted in the calendar's zone on each date.
- Business time is real elapsed time (UTC differences), not wall-clock time: a 01:00-05:00 shift
  lasts 3 real hours on a spring-forward night and 5 on a fall-back night.
- A wall time that does not exist (it falls in a spring-forward gap) moves forward to the first
  instant that exists, the end of the gap; an ambiguous wall time (fall-back) means its first
  occurrence (fold=0).
- Inputs must be timezone-aware datetimes; results are aware datetimes in UTC.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import IntEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Interval = tuple[datetime, datetime]

ONE_DAY = timedelta(days=1)
ONE_WEEK = timedelta(weeks=1)
ONE_SECOND = timedelta(seconds=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# How many consecutive local dates add_business_seconds scans without finding business time before
# it gives up: longer than a year, so a calendar closed for a whole year of holidays still fails.
SEARCH_HORIZON_DAYS = 400
# A shift may start late on the previous day(s) and still be open at a given instant: one day for
# the midnight-spanning shift, one more as margin for a gap pushing its end forward.
DAYS_LOOKED_BACK = 2


class Weekday(IntEnum):
    """Day numbers as `date.weekday()` returns them."""

    MONDAY = 0
    TUESDAY = 1
    WEDNESDAY = 2
    THURSDAY = 3
    FRIDAY = 4
    SATURDAY = 5
    SUNDAY = 6


class CalendarError(ValueError):
    """A business-hours calculation could not be made; the message says why."""


class InvalidCalendarError(CalendarError):
    """The calendar definition itself is wrong (overlapping shifts, unknown zone, ...)."""


class NaiveDatetimeError(CalendarError):
    """A datetime without a time zone was given; the instant it means is unknown."""


class NoBusinessTimeError(CalendarError):
    """The calendar has no business time within the search horizon, so no due time exists."""


@dataclass(frozen=True)
class Shift:
    """Opening hours on one weekday: from `start` to `end`, wall-clock, in the calendar's zone.

    The shift belongs to the weekday it starts on. When `end` is not after `start` the shift ends
    on the following day (Friday 22:00-06:00 ends Saturday 06:00); `end == start` is a 24-hour shift.
    """

    weekday: int
    start: time
    end: time

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise InvalidCalendarError(f"shift weekday must be 0 (Monday) to 6 (Sunday), got {self.weekday}")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise InvalidCalendarError("shift times are wall-clock times: give them without tzinfo")

    @property
    def ends_next_day(self) -> bool:
        return self.end <= self.start

    @property
    def wall_clock_length(self) -> timedelta:
        return (
            _since_midnight(self.end)
            - _since_midnight(self.start)
            + (ONE_DAY if self.ends_next_day else timedelta())
        )

    @property
    def start_in_week(self) -> timedelta:
        """Wall-clock offset of the start from Monday 00:00, used to compare shifts of a week."""
        return self.weekday * ONE_DAY + _since_midnight(self.start)

    def describe(self) -> str:
        return f"{Weekday(self.weekday).name.title()} {self.start.isoformat()}-{self.end.isoformat()}"


def shifts_on(weekdays: Iterable[int], start: time, end: time) -> tuple[Shift, ...]:
    """The same opening hours on several weekdays, e.g. `shifts_on(range(5), time(9), time(17))`."""
    return tuple(Shift(weekday, start, end) for weekday in weekdays)


@dataclass(frozen=True)
class BusinessCalendar:
    """When business time runs. See the module docstring for the time-zone and DST rules.

    A holiday closes every shift that STARTS on that local date. A night shift that started the
    evening before a holiday still runs to its end: the night belongs to the previous working day,
    which is how rotas are usually written. A 24x7 calendar has neither shifts nor holidays.
    """

    id: str
    name: str
    time_zone: str
    shifts: tuple[Shift, ...] = ()
    holidays: frozenset[date] = field(default_factory=frozenset)
    twenty_four_seven: bool = False

    def __post_init__(self) -> None:
        _check_time_zone(self.time_zone)
        if self.twenty_four_seven and (self.shifts or self.holidays):
            raise InvalidCalendarError(
                f"calendar {self.id!r} is 24x7 and cannot also have shifts or holidays; "
                "use seven 00:00-00:00 shifts for an always-open calendar that closes on holidays"
            )
        for holiday in self.holidays:
            if isinstance(holiday, datetime) or not isinstance(holiday, date):
                raise InvalidCalendarError(f"holidays are local dates, got {holiday!r}")
        _check_no_overlap(self.shifts)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def open_intervals(self, start: datetime, end: datetime) -> Iterator[Interval]:
        """The business intervals inside [start, end), in order, adjacent ones merged, in UTC."""
        window_start, window_end = _as_utc(start, "start"), _as_utc(end, "end")
        if window_end <= window_start:
            return iter(())
        if self.twenty_four_seven:
            return iter(((window_start, window_end),))
        return _merge_adjacent(_clipped_occurrences(self, window_start, window_end))

    def business_seconds(self, start: datetime, end: datetime) -> float:
        """Business time elapsed from start to end, in real seconds; 0 when end <= start."""
        total = sum((closes - opens for opens, closes in self.open_intervals(start, end)), timedelta())
        return total.total_seconds()

    def add_business_seconds(self, start: datetime, seconds: float) -> datetime:
        """The instant (UTC) at which `seconds` of business time have elapsed after start.

        Adding 0 returns start itself (as UTC) even outside business hours: nothing has to elapse.
        An amount that runs out exactly at a closing time returns that closing time, not the next
        opening. Raises NoBusinessTimeError when SEARCH_HORIZON_DAYS local dates in a row hold no
        business time, so calendars without shifts fail instead of searching forever.
        """
        origin = _as_utc(start, "start")
        if not math.isfinite(seconds) or seconds < 0:
            raise CalendarError(f"business seconds to add must be a finite number >= 0, got {seconds}")
        amount = timedelta(seconds=seconds)
        if amount == timedelta() or self.twenty_four_seven:
            return origin + amount
        return _consume(self, origin, amount)


def twenty_four_seven_calendar(
    *, time_zone: str = "UTC", calendar_id: str = "24x7", name: str = "24x7"
) -> BusinessCalendar:
    """A calendar that is always open: business time equals elapsed time."""
    return BusinessCalendar(id=calendar_id, name=name, time_zone=time_zone, twenty_four_seven=True)


def _check_time_zone(time_zone: str) -> None:
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise InvalidCalendarError(f"unknown IANA time zone {time_zone!r}") from error


def _check_no_overlap(shifts: tuple[Shift, ...]) -> None:
    """Shifts are compared on the wall-clock week, which wraps from Sunday night into Monday.

    Sorted by start, two shifts can only overlap if some shift overlaps the next one (or, for the
    last, the first one a week later), because no shift is longer than a day.
    """
    ordered = sorted(shifts, key=lambda shift: shift.start_in_week)
    if len(ordered) < 2:
        return
    for index, shift in enumerate(ordered):
        is_last = index + 1 == len(ordered)
        following = ordered[0] if is_last else ordered[index + 1]
        following_start = following.start_in_week + (ONE_WEEK if is_last else timedelta())
        if shift.start_in_week + shift.wall_clock_length > following_start:
            raise InvalidCalendarError(f"shifts overlap: {shift.describe()} and {following.describe()}")


def _since_midnight(moment: time) -> timedelta:
    return timedelta(
        hours=moment.hour, minutes=moment.minute, seconds=moment.second, microseconds=moment.microsecond
    )


def _as_utc(moment: datetime, what: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise NaiveDatetimeError(f"{what} must be a timezone-aware datetime, got naive {moment.isoformat()}")
    return moment.astimezone(UTC)


def _to_utc(wall: datetime, zone: ZoneInfo) -> datetime:
    """The instant of a naive wall time in `zone`, with the gap and ambiguity rules of the module."""
    first_occurrence = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first_occurrence.astimezone(zone).replace(tzinfo=None) == wall:
        return first_occurrence
    return _end_of_gap(wall, zone)


def _end_of_gap(wall: datetime, zone: ZoneInfo) -> datetime:
    """The transition instant that skipped `wall`: the first instant whose wall time is later.

    The two offsets around the gap bracket the transition; zone transitions fall on whole seconds,
    so a bisection over whole seconds finds it exactly in a few steps.
    """
    candidates = [wall.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1)]
    before = (min(candidates) - EPOCH) // ONE_SECOND
    after = -((EPOCH - max(candidates)) // ONE_SECOND)
    while after - before > 1:
        middle = (before + after) // 2
        if _wall_time(EPOCH + middle * ONE_SECOND, zone) > wall:
            after = middle
        else:
            before = middle
    return EPOCH + after * ONE_SECOND


def _wall_time(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None)


def _shift_occurrences(calendar: BusinessCalendar, day: date, zone: ZoneInfo) -> list[Interval]:
    """The real intervals of the shifts starting on local `day`, in order; none on a holiday."""
    if day in calendar.holidays:
        return []
    starting_today = sorted(
        (shift for shift in calendar.shifts if shift.weekday == day.weekday()), key=lambda shift: shift.start
    )
    occurrences: list[Interval] = []
    for shift in starting_today:
        closing_day = day + ONE_DAY if shift.ends_next_day else day
        opens = _to_utc(datetime.combine(day, shift.start), zone)
        closes = _to_utc(datetime.combine(closing_day, shift.end), zone)
        # A shift lying wholly inside a spring-forward gap has no real time at all.
        if opens < closes:
            occurrences.append((opens, closes))
    return occurrences


def _first_day_to_scan(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date() - DAYS_LOOKED_BACK * ONE_DAY


def _clipped_occurrences(calendar: BusinessCalendar, start: datetime, end: datetime) -> Iterator[Interval]:
    # Shifts do not overlap on the wall clock and wall-to-instant conversion never goes backwards,
    # so occurrences come out in order, day after day, with no overlap in real time either.
    zone = calendar.zone
    day, last_day = _first_day_to_scan(start, zone), end.astimezone(zone).date()
    while day <= last_day:
        for opens, closes in _shift_occurrences(calendar, day, zone):
            clipped_opens, clipped_closes = max(opens, start), min(closes, end)
            if clipped_opens < clipped_closes:
                yield clipped_opens, clipped_closes
        day += ONE_DAY


def _merge_adjacent(intervals: Iterable[Interval]) -> Iterator[Interval]:
    pending: Interval | None = None
    for opens, closes in intervals:
        if pending is not None and pending[1] == opens:
            pending = (pending[0], closes)
            continue
        if pending is not None:
            yield pending
        pending = (opens, closes)
    if pending is not None:
        yield pending


def _consume(calendar: BusinessCalendar, start: datetime, amount: timedelta) -> datetime:
    """Walk the calendar day by day from start until `amount` of business time is used up."""
    zone = calendar.zone
    remaining = amount
    day = _first_day_to_scan(start, zone)
    last_open_day = start.astimezone(zone).date()
    while (day - last_open_day).days <= SEARCH_HORIZON_DAYS:
        for opens, closes in _shift_occurrences(calendar, day, zone):
            available_from = max(opens, start)
            if available_from >= closes:
                continue
            if remaining <= closes - available_from:
                return available_from + remaining
            remaining -= closes - available_from
            last_open_day = day
        day += ONE_DAY
    raise NoBusinessTimeError(
        f"calendar {calendar.id!r} has no business time in {SEARCH_HORIZON_DAYS} days "
        f"after {last_open_day.isoformat()}; check its shifts and holidays"
    )
