"""Unit tests of the SLA business-hours calendar arithmetic (ticketstream_sla.business_hours).

Expected instants are written out by hand, in UTC where DST makes local times misleading, so no
expectation is computed by the code under test. The property tests compare the calendar against a
wall-clock oracle written here, which is exact for calendars whose shift boundaries never fall in
a DST gap or repeated hour (true of every calendar used by the properties).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ticketstream_sla.business_hours import (
    BusinessCalendar,
    CalendarError,
    InvalidCalendarError,
    NaiveDatetimeError,
    NoBusinessTimeError,
    Shift,
    Weekday,
    shifts_on,
    twenty_four_seven_calendar,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
HOUR = 3600.0
MICROSECOND = timedelta(microseconds=1)
WEEKDAYS = range(Weekday.MONDAY, Weekday.SATURDAY)
EVERY_DAY = range(Weekday.MONDAY, Weekday.SUNDAY + 1)


def calendar(
    time_zone: str, shifts: tuple[Shift, ...], holidays: frozenset[date] = frozenset()
) -> BusinessCalendar:
    return BusinessCalendar(
        id=f"cal-{time_zone}",
        name=f"Calendar in {time_zone}",
        time_zone=time_zone,
        shifts=shifts,
        holidays=holidays,
    )


def berlin(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=BERLIN)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


BERLIN_OFFICE = calendar("Europe/Berlin", shifts_on(WEEKDAYS, time(9), time(17)))
BERLIN_NIGHTS = calendar("Europe/Berlin", shifts_on(WEEKDAYS, time(22), time(6)))
BERLIN_EARLY_EVERY_DAY = calendar("Europe/Berlin", shifts_on(EVERY_DAY, time(1), time(5)))
NEW_YORK_OFFICE = calendar("America/New_York", shifts_on(WEEKDAYS, time(9), time(17)))
NEW_YORK_SUNDAY_EARLY = calendar("America/New_York", (Shift(Weekday.SUNDAY, time(1), time(5)),))


# --- examples: office hours, holidays, inside and outside hours -------------------------------------


def test_friday_afternoon_plus_two_business_hours_is_monday_morning() -> None:
    due = BERLIN_OFFICE.add_business_seconds(berlin(2026, 1, 9, 16), 2 * HOUR)

    assert due == berlin(2026, 1, 12, 10)
    assert due == utc(2026, 1, 12, 9)
    assert due.tzinfo is UTC


def test_a_monday_holiday_pushes_the_due_time_to_tuesday() -> None:
    with_holiday = calendar("Europe/Berlin", BERLIN_OFFICE.shifts, frozenset({date(2026, 1, 12)}))

    assert with_holiday.add_business_seconds(berlin(2026, 1, 9, 16), 2 * HOUR) == berlin(2026, 1, 13, 10)


def test_business_seconds_over_a_weekend_count_only_office_hours() -> None:
    assert BERLIN_OFFICE.business_seconds(berlin(2026, 1, 9, 16), berlin(2026, 1, 12, 10)) == 2 * HOUR
    assert BERLIN_OFFICE.business_seconds(berlin(2026, 1, 12, 10), berlin(2026, 1, 9, 16)) == 0


@pytest.mark.parametrize(
    ("start", "expected_due"),
    [
        pytest.param(berlin(2026, 1, 13, 10), berlin(2026, 1, 13, 11), id="inside-hours"),
        pytest.param(berlin(2026, 1, 13, 7), berlin(2026, 1, 13, 10), id="before-opening"),
        pytest.param(berlin(2026, 1, 13, 18), berlin(2026, 1, 14, 10), id="after-closing"),
        pytest.param(berlin(2026, 1, 10, 12), berlin(2026, 1, 12, 10), id="saturday"),
        pytest.param(berlin(2026, 1, 13, 16, 30), berlin(2026, 1, 14, 9, 30), id="straddles-closing"),
    ],
)
def test_one_business_hour_from_inside_or_outside_hours(start: datetime, expected_due: datetime) -> None:
    assert BERLIN_OFFICE.add_business_seconds(start, HOUR) == expected_due


def test_an_amount_ending_exactly_at_closing_time_is_due_at_closing_not_next_opening() -> None:
    assert BERLIN_OFFICE.add_business_seconds(berlin(2026, 1, 13, 16), HOUR) == berlin(2026, 1, 13, 17)


def test_adding_nothing_returns_start_even_outside_hours() -> None:
    saturday_noon = berlin(2026, 1, 10, 12)

    due = BERLIN_OFFICE.add_business_seconds(saturday_noon, 0)

    assert due == utc(2026, 1, 10, 11)
    assert due.tzinfo is UTC


def test_start_given_in_another_zone_means_the_same_instant() -> None:
    friday_16_berlin_seen_from_new_york = datetime(2026, 1, 9, 10, tzinfo=NEW_YORK)

    assert BERLIN_OFFICE.add_business_seconds(friday_16_berlin_seen_from_new_york, 2 * HOUR) == utc(
        2026, 1, 12, 9
    )


def test_one_hundred_twenty_business_hours_are_three_working_weeks() -> None:
    # 15 working days of 8 hours, Monday 12 January to Friday 30 January 2026.
    assert BERLIN_OFFICE.add_business_seconds(berlin(2026, 1, 12, 9), 120 * HOUR) == berlin(2026, 1, 30, 17)


def test_adjacent_shifts_are_merged_into_one_interval() -> None:
    split_day = calendar(
        "Europe/Berlin",
        (Shift(Weekday.MONDAY, time(9), time(12)), Shift(Weekday.MONDAY, time(12), time(17))),
    )

    intervals = list(split_day.open_intervals(berlin(2026, 1, 12, 0), berlin(2026, 1, 13, 0)))

    assert intervals == [(utc(2026, 1, 12, 8), utc(2026, 1, 12, 16))]


def test_open_intervals_are_clipped_to_the_window() -> None:
    intervals = list(BERLIN_OFFICE.open_intervals(berlin(2026, 1, 12, 10), berlin(2026, 1, 13, 12)))

    assert intervals == [
        (utc(2026, 1, 12, 9), utc(2026, 1, 12, 16)),
        (utc(2026, 1, 13, 8), utc(2026, 1, 13, 11)),
    ]


# --- examples: night shifts across midnight ---------------------------------------------------------


def test_a_night_shift_runs_past_midnight_as_one_interval() -> None:
    intervals = list(BERLIN_NIGHTS.open_intervals(berlin(2026, 1, 9, 20), berlin(2026, 1, 10, 12)))

    assert intervals == [(utc(2026, 1, 9, 21), utc(2026, 1, 10, 5))]


def test_adding_across_two_night_shifts() -> None:
    # One hour left of Thursday's night, then two hours of Friday's night (22:00 -> Saturday 00:00).
    assert BERLIN_NIGHTS.add_business_seconds(berlin(2026, 1, 9, 5), 3 * HOUR) == berlin(2026, 1, 10, 0)


def test_a_night_shift_belongs_to_the_day_it_starts_on() -> None:
    # Friday's night is open on Saturday morning; Sunday has no shift, so Monday morning is closed.
    assert BERLIN_NIGHTS.business_seconds(berlin(2026, 1, 10, 0), berlin(2026, 1, 10, 12)) == 6 * HOUR
    assert BERLIN_NIGHTS.business_seconds(berlin(2026, 1, 11, 12), berlin(2026, 1, 12, 12)) == 0


def test_a_holiday_closes_the_night_starting_on_it_but_not_the_night_running_into_it() -> None:
    friday_holiday = calendar("Europe/Berlin", BERLIN_NIGHTS.shifts, frozenset({date(2026, 1, 9)}))
    friday, monday = berlin(2026, 1, 9, 0), berlin(2026, 1, 12, 0)

    assert BERLIN_NIGHTS.business_seconds(friday, monday) == 14 * HOUR
    assert friday_holiday.business_seconds(friday, monday) == 6 * HOUR


# --- examples: daylight saving time -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("business_calendar", "night_start", "night_end", "expected_hours"),
    [
        pytest.param(
            BERLIN_EARLY_EVERY_DAY, utc(2025, 3, 29, 22), utc(2025, 3, 30, 12), 3, id="berlin-spring"
        ),
        pytest.param(
            BERLIN_EARLY_EVERY_DAY, utc(2025, 10, 25, 21), utc(2025, 10, 26, 12), 5, id="berlin-fall"
        ),
        pytest.param(BERLIN_EARLY_EVERY_DAY, utc(2025, 3, 1, 22), utc(2025, 3, 2, 12), 4, id="berlin-normal"),
        pytest.param(NEW_YORK_SUNDAY_EARLY, utc(2025, 3, 9, 4), utc(2025, 3, 9, 16), 3, id="new-york-spring"),
        pytest.param(NEW_YORK_SUNDAY_EARLY, utc(2025, 11, 2, 3), utc(2025, 11, 2, 16), 5, id="new-york-fall"),
    ],
)
def test_a_shift_over_a_clock_change_counts_real_hours(
    business_calendar: BusinessCalendar, night_start: datetime, night_end: datetime, expected_hours: int
) -> None:
    assert business_calendar.business_seconds(night_start, night_end) == expected_hours * HOUR


@pytest.mark.parametrize(
    ("business_calendar", "start", "hours", "expected_due"),
    [
        # Berlin spring forward: 01:00 CET is 00:00 UTC and the shift closes at 05:00 CEST, 03:00 UTC.
        pytest.param(
            BERLIN_EARLY_EVERY_DAY, utc(2025, 3, 30, 0), 3, utc(2025, 3, 30, 3), id="berlin-spring-all"
        ),
        pytest.param(
            BERLIN_EARLY_EVERY_DAY, utc(2025, 3, 30, 0), 4, utc(2025, 3, 31, 0), id="berlin-spring-next"
        ),
        # Berlin fall back: 01:00 CEST is 23:00 UTC the day before; closing 05:00 CET is 04:00 UTC.
        pytest.param(
            BERLIN_EARLY_EVERY_DAY, utc(2025, 10, 25, 23), 4.5, utc(2025, 10, 26, 3, 30), id="berlin-fall"
        ),
        pytest.param(
            BERLIN_EARLY_EVERY_DAY, utc(2025, 10, 25, 23), 5, utc(2025, 10, 26, 4), id="berlin-fall-all"
        ),
        pytest.param(
            BERLIN_EARLY_EVERY_DAY, utc(2025, 10, 25, 23), 6, utc(2025, 10, 27, 1), id="berlin-fall-next"
        ),
        # New York: 01:00 EST is 06:00 UTC; 01:00 EDT is 05:00 UTC.
        pytest.param(NEW_YORK_SUNDAY_EARLY, utc(2025, 3, 9, 6), 2, utc(2025, 3, 9, 8), id="new-york-spring"),
        pytest.param(
            NEW_YORK_SUNDAY_EARLY, utc(2025, 11, 2, 5), 4.5, utc(2025, 11, 2, 9, 30), id="new-york-fall"
        ),
        # Office hours follow the local wall clock: Monday 10:00 EDT after a Friday in EST.
        pytest.param(NEW_YORK_OFFICE, utc(2025, 3, 7, 21), 2, utc(2025, 3, 10, 14), id="new-york-office"),
    ],
)
def test_adding_over_a_clock_change_counts_real_hours(
    business_calendar: BusinessCalendar, start: datetime, hours: float, expected_due: datetime
) -> None:
    assert business_calendar.add_business_seconds(start, hours * HOUR) == expected_due


def test_a_shift_starting_in_the_spring_forward_gap_opens_when_the_gap_ends() -> None:
    sunday = calendar("Europe/Berlin", (Shift(Weekday.SUNDAY, time(2, 30), time(6)),))

    intervals = list(sunday.open_intervals(utc(2025, 3, 29, 12), utc(2025, 3, 30, 12)))

    # 02:30 does not exist; 03:00 CEST is 01:00 UTC. 06:00 CEST is 04:00 UTC.
    assert intervals == [(utc(2025, 3, 30, 1), utc(2025, 3, 30, 4))]


def test_a_shift_starting_in_the_repeated_hour_opens_at_its_first_occurrence() -> None:
    sunday = calendar("Europe/Berlin", (Shift(Weekday.SUNDAY, time(2, 30), time(6)),))

    intervals = list(sunday.open_intervals(utc(2025, 10, 25, 12), utc(2025, 10, 26, 12)))

    # The first 02:30 is CEST, 00:30 UTC; 06:00 CET is 05:00 UTC.
    assert intervals == [(utc(2025, 10, 26, 0, 30), utc(2025, 10, 26, 5))]


def test_a_shift_wholly_inside_the_gap_has_no_time_that_night_only() -> None:
    inside_gap = calendar("Europe/Berlin", (Shift(Weekday.SUNDAY, time(2, 10), time(2, 50)),))

    assert inside_gap.business_seconds(utc(2025, 3, 29, 12), utc(2025, 3, 30, 12)) == 0
    assert inside_gap.business_seconds(utc(2025, 4, 5, 12), utc(2025, 4, 6, 12)) == 40 * 60


def test_twenty_four_seven_equals_wall_clock_time_even_over_a_clock_change() -> None:
    always = twenty_four_seven_calendar(time_zone="Europe/Berlin")
    start = berlin(2025, 10, 26, 0)

    assert always.business_seconds(berlin(2025, 3, 30, 0), berlin(2025, 3, 31, 0)) == 23 * HOUR
    assert always.add_business_seconds(start, 24 * HOUR) == utc(2025, 10, 26, 22)
    assert list(always.open_intervals(start, berlin(2025, 10, 27, 0))) == [
        (utc(2025, 10, 25, 22), utc(2025, 10, 26, 23))
    ]


# --- examples: invalid input and calendars without business time -----------------------------------


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda: BERLIN_OFFICE.add_business_seconds(datetime(2026, 1, 9, 16), HOUR), id="add"),
        pytest.param(
            lambda: BERLIN_OFFICE.business_seconds(datetime(2026, 1, 9), utc(2026, 1, 10)), id="measure"
        ),
        pytest.param(
            lambda: BERLIN_OFFICE.open_intervals(utc(2026, 1, 9), datetime(2026, 1, 10)), id="intervals"
        ),
        pytest.param(
            lambda: twenty_four_seven_calendar().add_business_seconds(datetime(2026, 1, 9), HOUR),
            id="24x7-add",
        ),
    ],
)
def test_naive_datetimes_are_rejected(call: Callable[[], object]) -> None:
    with pytest.raises(NaiveDatetimeError, match="timezone-aware"):
        call()


@pytest.mark.parametrize("amount", [-1.0, float("nan"), float("inf")])
def test_negative_or_non_finite_amounts_are_rejected(amount: float) -> None:
    with pytest.raises(CalendarError, match=">= 0"):
        BERLIN_OFFICE.add_business_seconds(berlin(2026, 1, 9, 16), amount)


@pytest.mark.parametrize(
    ("shifts", "named_in_message"),
    [
        pytest.param(
            (Shift(Weekday.MONDAY, time(9), time(17)), Shift(Weekday.MONDAY, time(16), time(20))),
            "Monday 09:00:00-17:00:00",
            id="same-day",
        ),
        pytest.param(
            (Shift(Weekday.FRIDAY, time(22), time(6)), Shift(Weekday.SATURDAY, time(5), time(13))),
            "Saturday 05:00:00-13:00:00",
            id="across-midnight",
        ),
        pytest.param(
            (Shift(Weekday.SUNDAY, time(22), time(6)), Shift(Weekday.MONDAY, time(5), time(9))),
            "Sunday 22:00:00-06:00:00",
            id="across-the-week-end",
        ),
        pytest.param(
            (Shift(Weekday.TUESDAY, time(9), time(17)), Shift(Weekday.TUESDAY, time(9), time(17))),
            "Tuesday",
            id="duplicate",
        ),
        pytest.param(
            (Shift(Weekday.WEDNESDAY, time(8), time(8)), Shift(Weekday.THURSDAY, time(7), time(9))),
            "Wednesday 08:00:00-08:00:00",
            id="full-day-shift",
        ),
    ],
)
def test_overlapping_shifts_are_rejected(shifts: tuple[Shift, ...], named_in_message: str) -> None:
    with pytest.raises(InvalidCalendarError, match="shifts overlap") as raised:
        calendar("Europe/Berlin", shifts)

    assert named_in_message in str(raised.value)


def test_touching_shifts_including_over_the_week_end_are_accepted() -> None:
    touching = (
        Shift(Weekday.SUNDAY, time(22), time(6)),
        Shift(Weekday.MONDAY, time(6), time(22)),
        Shift(Weekday.MONDAY, time(22), time(22)),
    )

    assert calendar("Europe/Berlin", touching).shifts == touching


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda: calendar("Europe/Atlantis", ()), id="unknown-zone"),
        pytest.param(lambda: Shift(7, time(9), time(17)), id="weekday-out-of-range"),
        pytest.param(lambda: Shift(Weekday.MONDAY, time(9, tzinfo=UTC), time(17)), id="aware-shift-time"),
        pytest.param(
            lambda: BusinessCalendar("c", "c", "UTC", shifts=BERLIN_OFFICE.shifts, twenty_four_seven=True),
            id="24x7-with-shifts",
        ),
        pytest.param(
            lambda: calendar("UTC", BERLIN_OFFICE.shifts, frozenset({datetime(2026, 1, 1)})),
            id="datetime-holiday",
        ),
    ],
)
def test_invalid_calendars_are_rejected(build: Callable[[], object]) -> None:
    with pytest.raises(InvalidCalendarError):
        build()


def test_a_calendar_without_shifts_has_no_business_time_and_cannot_add() -> None:
    closed = calendar("Europe/Berlin", ())

    assert closed.business_seconds(utc(2026, 1, 1), utc(2026, 2, 1)) == 0
    assert list(closed.open_intervals(utc(2026, 1, 1), utc(2026, 2, 1))) == []
    with pytest.raises(NoBusinessTimeError, match="no business time"):
        closed.add_business_seconds(utc(2026, 1, 1), 1)


def mondays(first: date, count: int) -> frozenset[date]:
    return frozenset(first + timedelta(weeks=index) for index in range(count))


def test_a_calendar_closed_by_holidays_beyond_the_horizon_cannot_add() -> None:
    # Every Monday for two years is a holiday: the only shift never opens within 400 days.
    only_mondays = (Shift(Weekday.MONDAY, time(9), time(17)),)
    always_on_holiday = calendar("Europe/Berlin", only_mondays, mondays(date(2026, 1, 5), 105))

    with pytest.raises(NoBusinessTimeError):
        always_on_holiday.add_business_seconds(berlin(2026, 1, 1), HOUR)


def test_a_long_run_of_holidays_shorter_than_the_horizon_is_waited_out() -> None:
    only_mondays = (Shift(Weekday.MONDAY, time(9), time(17)),)
    closed_for_a_year = calendar("Europe/Berlin", only_mondays, mondays(date(2026, 1, 5), 52))

    # 52 Mondays from 5 January 2026 end on 28 December 2026; the next Monday is 4 January 2027.
    assert closed_for_a_year.add_business_seconds(berlin(2026, 1, 1), HOUR) == berlin(2027, 1, 4, 10)


# --- properties -------------------------------------------------------------------------------------


def yearly(month: int, day: int) -> frozenset[date]:
    return frozenset(date(year, month, day) for year in range(2025, 2030))


BERLIN_OFFICE_WITH_HOLIDAYS = calendar(
    "Europe/Berlin",
    shifts_on(WEEKDAYS, time(9), time(17)),
    yearly(1, 1) | yearly(5, 1) | yearly(10, 3) | yearly(12, 25) | yearly(12, 26),
)
NEW_YORK_WITH_NIGHTS = calendar(
    "America/New_York",
    (
        *shifts_on(range(Weekday.MONDAY, Weekday.FRIDAY), time(8), time(12)),
        *shifts_on(range(Weekday.MONDAY, Weekday.FRIDAY), time(13), time(17, 30)),
        Shift(Weekday.MONDAY, time(2), time(8)),
        Shift(Weekday.FRIDAY, time(22), time(6)),
        Shift(Weekday.SATURDAY, time(10), time(10)),
        Shift(Weekday.SUNDAY, time(20), time(2)),
    ),
    yearly(7, 4) | yearly(12, 25),
)
TOKYO_ALWAYS = twenty_four_seven_calendar(time_zone="Asia/Tokyo")
SYDNEY_WITH_SUNDAY_EARLY = calendar(
    "Australia/Sydney",
    (
        *shifts_on(range(Weekday.MONDAY, Weekday.SUNDAY), time(7), time(19)),
        Shift(Weekday.SUNDAY, time(1), time(5)),
    ),
    yearly(1, 26) | yearly(12, 25),
)
PROPERTY_CALENDARS = (
    BERLIN_OFFICE_WITH_HOLIDAYS,
    NEW_YORK_WITH_NIGHTS,
    TOKYO_ALWAYS,
    SYDNEY_WITH_SUNDAY_EARLY,
)
# Clock changes of the property calendars' zones, so that starts near them are drawn often.
CLOCK_CHANGES = (
    utc(2025, 3, 30, 1),
    utc(2025, 10, 26, 1),
    utc(2026, 3, 29, 1),
    utc(2025, 3, 9, 7),
    utc(2025, 11, 2, 6),
    utc(2027, 3, 14, 7),
    utc(2025, 4, 5, 16),
    utc(2025, 10, 4, 16),
    utc(2026, 10, 3, 16),
)
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)

calendars = st.sampled_from(PROPERTY_CALENDARS)
instants = st.one_of(
    st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)),
    st.builds(
        lambda change, offset: change + timedelta(seconds=offset),
        st.sampled_from(CLOCK_CHANGES),
        st.integers(min_value=-2 * 86400, max_value=2 * 86400),
    ),
)
business_amounts = st.floats(min_value=0, max_value=300 * HOUR, allow_nan=False, allow_infinity=False)
window_lengths = st.floats(min_value=0, max_value=60 * 86400).map(lambda seconds: timedelta(seconds=seconds))


def open_by_wall_clock(business_calendar: BusinessCalendar, instant: datetime) -> bool:
    """Whether a non-holiday shift covers `instant`, judged on the local wall clock only."""
    if business_calendar.twenty_four_seven:
        return True
    wall = instant.astimezone(ZoneInfo(business_calendar.time_zone)).replace(tzinfo=None)
    for day in (wall.date() - timedelta(days=1), wall.date()):
        if day in business_calendar.holidays:
            continue
        for shift in business_calendar.shifts:
            closing_day = day + timedelta(days=1) if shift.end <= shift.start else day
            starts_that_day = shift.weekday == day.weekday()
            if starts_that_day and datetime.combine(day, shift.start) <= wall < datetime.combine(
                closing_day, shift.end
            ):
                return True
    return False


@PROPERTY_SETTINGS
@given(calendars, instants, business_amounts)
def test_measuring_what_was_added_gives_back_the_amount(
    business_calendar: BusinessCalendar, start: datetime, amount: float
) -> None:
    due = business_calendar.add_business_seconds(start, amount)

    assert business_calendar.business_seconds(start, due) == pytest.approx(amount, abs=1e-6)


@PROPERTY_SETTINGS
@given(calendars, instants, business_amounts)
def test_the_due_time_is_never_before_start_and_just_before_it_is_business_time(
    business_calendar: BusinessCalendar, start: datetime, amount: float
) -> None:
    due = business_calendar.add_business_seconds(start, amount)

    assert due >= start
    if due > start:
        assert open_by_wall_clock(business_calendar, due - MICROSECOND)


@PROPERTY_SETTINGS
@given(calendars, instants, business_amounts, business_amounts)
def test_adding_more_is_never_due_earlier(
    business_calendar: BusinessCalendar, start: datetime, amount: float, other_amount: float
) -> None:
    smaller, larger = sorted((amount, other_amount))

    assert business_calendar.add_business_seconds(start, smaller) <= business_calendar.add_business_seconds(
        start, larger
    )


@PROPERTY_SETTINGS
@given(calendars, instants, window_lengths, window_lengths)
def test_business_time_adds_up_over_consecutive_spans(
    business_calendar: BusinessCalendar, first: datetime, first_span: timedelta, second_span: timedelta
) -> None:
    middle, last = first + first_span, first + first_span + second_span

    whole = business_calendar.business_seconds(first, last)
    parts = business_calendar.business_seconds(first, middle) + business_calendar.business_seconds(
        middle, last
    )

    assert whole == pytest.approx(parts, abs=1e-6)
    assert 0 <= whole <= (last - first).total_seconds()


@PROPERTY_SETTINGS
@given(calendars, instants, window_lengths)
def test_open_intervals_are_ordered_merged_and_inside_non_holiday_shifts(
    business_calendar: BusinessCalendar, start: datetime, length: timedelta
) -> None:
    end = start + length

    intervals = list(business_calendar.open_intervals(start, end))

    for opens, closes in intervals:
        assert start <= opens < closes <= end
        assert opens.tzinfo is UTC and closes.tzinfo is UTC
        for inside in (opens, opens + (closes - opens) / 2, closes - MICROSECOND):
            assert open_by_wall_clock(business_calendar, inside)
        # Maximal: the calendar is closed just outside each interval, unless the window cuts it.
        assert opens == start or not open_by_wall_clock(business_calendar, opens - MICROSECOND)
        assert closes == end or not open_by_wall_clock(business_calendar, closes)
    for (_, earlier_closes), (later_opens, _) in pairwise(intervals):
        assert earlier_closes < later_opens


@PROPERTY_SETTINGS
@given(calendars, instants, window_lengths, st.floats(min_value=0, max_value=1, exclude_max=True))
def test_an_instant_is_inside_an_open_interval_exactly_when_a_shift_covers_it(
    business_calendar: BusinessCalendar, start: datetime, length: timedelta, fraction: float
) -> None:
    end = start + length
    instant = min(start + length * fraction, end)

    covered = any(opens <= instant < closes for opens, closes in business_calendar.open_intervals(start, end))

    assert covered == (instant < end and open_by_wall_clock(business_calendar, instant))


@PROPERTY_SETTINGS
@given(instants, window_lengths)
def test_twenty_four_seven_business_time_is_elapsed_time(start: datetime, length: timedelta) -> None:
    assert TOKYO_ALWAYS.business_seconds(start, start + length) == pytest.approx(
        length.total_seconds(), abs=1e-6
    )
