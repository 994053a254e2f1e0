"""Calendars as administrators define them (ticketstream_sla.calendars).

Pure: public holidays come from the `holidays` package's built-in tables, and "today" is injected.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

import pytest

from ticketstream_sla.business_hours import InvalidCalendarError, Shift, shifts_on
from ticketstream_sla.calendars import CalendarSpec, built_in, business_calendar, wall_time

OFFICE_SHIFTS = shifts_on(range(5), time(9), time(17))
TODAY = date(2026, 6, 1)
CHRISTMAS_2026 = date(2026, 12, 25)  # a Friday
HOUR = 3600.0


def spec(**changes: Any) -> CalendarSpec:
    """The Berlin office calendar, with the given fields changed."""
    defaults = {
        "id": "berlin-office",
        "name": "Berlin office",
        "time_zone": "Europe/Berlin",
        "shifts": OFFICE_SHIFTS,
    }
    return CalendarSpec(**(defaults | changes))


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


# --- business_calendar -------------------------------------------------------------------------


def test_a_calendar_keeps_its_definition() -> None:
    calendar = business_calendar(spec(), today=TODAY)

    assert (calendar.id, calendar.name, calendar.time_zone) == (
        "berlin-office",
        "Berlin office",
        "Europe/Berlin",
    )
    assert calendar.shifts == OFFICE_SHIFTS
    assert calendar.holidays == frozenset()
    assert calendar.twenty_four_seven is False


def test_a_country_adds_its_public_holidays_and_closes_them() -> None:
    calendar = business_calendar(spec(country="DE"), today=TODAY)

    assert {CHRISTMAS_2026, date(2026, 10, 3), date(2026, 1, 1)} <= calendar.holidays
    # Christmas Day is a Friday: none of its 09:00-17:00 (08:00-16:00 UTC) counts.
    assert calendar.business_seconds(utc(2026, 12, 25, 0), utc(2026, 12, 26, 0)) == 0
    assert calendar.business_seconds(utc(2026, 12, 24, 0), utc(2026, 12, 25, 0)) == 8 * HOUR


def test_country_holidays_cover_the_year_before_and_the_two_after_today() -> None:
    calendar = business_calendar(spec(country="DE"), today=TODAY)

    assert {date(2025, 12, 25), date(2027, 12, 25), date(2028, 12, 25)} <= calendar.holidays
    assert date(2024, 12, 25) not in calendar.holidays
    assert date(2029, 12, 25) not in calendar.holidays


def test_a_subdivision_adds_its_own_holidays() -> None:
    epiphany = date(2026, 1, 6)  # a holiday in Bavaria, not in all of Germany

    assert epiphany not in business_calendar(spec(country="DE"), today=TODAY).holidays
    assert epiphany in business_calendar(spec(country="DE", subdivision="BY"), today=TODAY).holidays


def test_the_country_code_is_not_case_sensitive() -> None:
    assert CHRISTMAS_2026 in business_calendar(spec(country="de"), today=TODAY).holidays


def test_explicit_holidays_are_closed_and_add_to_the_country_ones() -> None:
    company_day = date(2026, 3, 2)  # a Monday

    calendar = business_calendar(spec(holidays=frozenset({company_day}), country="DE"), today=TODAY)

    assert {company_day, CHRISTMAS_2026} <= calendar.holidays
    assert calendar.business_seconds(utc(2026, 3, 2, 0), utc(2026, 3, 3, 0)) == 0


def test_an_unknown_country_is_refused_with_the_reason() -> None:
    with pytest.raises(InvalidCalendarError, match=r"no public-holiday table: .*XX"):
        business_calendar(spec(country="XX"), today=TODAY)


def test_an_unknown_subdivision_is_refused_with_the_reason() -> None:
    with pytest.raises(InvalidCalendarError, match=r"no public-holiday table: .*ZZ"):
        business_calendar(spec(country="DE", subdivision="ZZ"), today=TODAY)


def test_the_built_in_id_is_refused() -> None:
    with pytest.raises(InvalidCalendarError, match="built-in always-open calendar"):
        business_calendar(spec(id="24x7"), today=TODAY)


def test_a_calendar_without_shifts_that_is_not_24x7_is_refused() -> None:
    with pytest.raises(InvalidCalendarError, match="at least one shift"):
        business_calendar(spec(shifts=()), today=TODAY)


def test_a_24x7_calendar_with_a_country_is_refused() -> None:
    with pytest.raises(InvalidCalendarError, match="leave country empty"):
        business_calendar(spec(shifts=(), twenty_four_seven=True, country="DE"), today=TODAY)


def test_a_24x7_calendar_of_its_own_is_always_open() -> None:
    calendar = business_calendar(spec(id="always", shifts=(), twenty_four_seven=True), today=TODAY)

    assert calendar.twenty_four_seven is True
    assert calendar.business_seconds(utc(2026, 12, 25, 0), utc(2026, 12, 27, 0)) == 48 * HOUR


def test_the_built_in_calendar_is_24x7() -> None:
    calendar = built_in()

    assert (calendar.id, calendar.twenty_four_seven) == ("24x7", True)
    assert calendar.business_seconds(utc(2026, 12, 25, 0), utc(2026, 12, 25, 1)) == HOUR


# --- wall_time ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("09:00", time(9)), ("17:30", time(17, 30)), ("00:00", time(0)), ("23:59", time(23, 59))],
)
def test_wall_times(text: str, expected: time) -> None:
    assert wall_time(text) == expected


def test_24_00_is_the_end_of_the_day_stored_as_midnight() -> None:
    end_of_day = wall_time("24:00")

    assert end_of_day == time(0)
    # As a shift end, midnight means the following midnight: a 09:00-24:00 shift lasts 15 hours.
    assert Shift(0, time(9), end_of_day).ends_next_day is True


@pytest.mark.parametrize("text", ["9am", "", "25:00", "24:01", "12:60", "noon", "9:00"])
def test_text_that_is_not_a_wall_time_is_refused_with_the_reason(text: str) -> None:
    with pytest.raises(InvalidCalendarError, match="is not a wall-clock time such as 09:00"):
        wall_time(text)
