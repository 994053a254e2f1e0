"""Business-hours calendars as administrators define them, turned into `BusinessCalendar`s.
No IO here; public holidays of a country come from the `holidays` package's built-in tables.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time

import holidays as public_holidays

from ticketstream_sla.business_hours import (
    BusinessCalendar,
    InvalidCalendarError,
    NoBusinessTimeError,
    Shift,
    twenty_four_seven_calendar,
)
from ticketstream_sla.policies import TWENTY_FOUR_SEVEN

# Country holidays are expanded for the years around now that a clock can plausibly span.
YEARS_BEFORE, YEARS_AFTER = 1, 2


@dataclass(frozen=True)
class CalendarSpec:
    id: str
    name: str
    time_zone: str = "UTC"
    twenty_four_seven: bool = False
    shifts: tuple[Shift, ...] = ()
    holidays: frozenset[date] = field(default_factory=frozenset)
    country: str | None = None
    subdivision: str | None = None
    version: int = 1


def built_in() -> BusinessCalendar:
    return twenty_four_seven_calendar(calendar_id=TWENTY_FOUR_SEVEN, name="Always open (24x7)")


def business_calendar(spec: CalendarSpec, *, today: date) -> BusinessCalendar:
    """Raises InvalidCalendarError with the reason when the definition cannot be used."""
    if spec.id == TWENTY_FOUR_SEVEN:
        raise InvalidCalendarError(f"calendar id {TWENTY_FOUR_SEVEN!r} is the built-in always-open calendar")
    if not spec.twenty_four_seven and not spec.shifts:
        raise InvalidCalendarError("a calendar needs at least one shift, or twenty_four_seven: true")
    if spec.twenty_four_seven and spec.country:
        raise InvalidCalendarError("a 24x7 calendar has no public holidays; leave country empty")
    if spec.subdivision and not spec.country:
        raise InvalidCalendarError("a subdivision needs its country, e.g. country DE, subdivision BY")
    years = range(today.year - YEARS_BEFORE, today.year + YEARS_AFTER + 1)
    closed = spec.holidays | _country_holidays(spec.country, spec.subdivision, years)
    return BusinessCalendar(
        id=spec.id,
        name=spec.name,
        time_zone=spec.time_zone,
        shifts=spec.shifts,
        holidays=frozenset(closed),
        twenty_four_seven=spec.twenty_four_seven,
    )


def check_open(calendar: BusinessCalendar, *, now: datetime) -> None:
    """Refuse a calendar on which a target starting now could never fall due (its shift days
    are all holidays for longer than the search horizon)."""
    try:
        calendar.add_business_seconds(now, 1)
    except NoBusinessTimeError as error:
        raise InvalidCalendarError(f"the calendar has no business hours ahead: {error}") from error


def _country_holidays(country: str | None, subdivision: str | None, years: Iterable[int]) -> frozenset[date]:
    if country is None:
        return frozenset()
    try:
        table = public_holidays.country_holidays(country.upper(), subdiv=subdivision, years=list(years))
    except NotImplementedError as error:  # an unknown country, or subdivision of a country
        raise InvalidCalendarError(f"no public-holiday table: {error}") from error
    return frozenset(table.keys())


def wall_time(text: str) -> time:
    """'09:00' → 09:00; '24:00' is accepted as the end of the day (stored as 00:00)."""
    if text == "24:00":
        return time(0)
    try:
        return time.fromisoformat(text)
    except ValueError as error:
        raise InvalidCalendarError(f"{text!r} is not a wall-clock time such as 09:00") from error
