"""Unit tests of analytics' time buckets (UTC dates; ISO weeks start on Monday)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from ticketstream_analytics.domain import Interval, bucket_start


@pytest.mark.parametrize("day", [date(2026, 1, 1), date(2026, 2, 28), date(2024, 2, 29), date(2026, 12, 31)])
def test_day_bucket_is_the_day_itself(day: date) -> None:
    assert bucket_start(day, Interval.DAY) == day


@pytest.mark.parametrize(
    ("day", "monday"),
    [
        (date(2026, 3, 16), date(2026, 3, 16)),  # a Monday is its own week start
        (date(2026, 3, 18), date(2026, 3, 16)),  # Wednesday
        (date(2026, 3, 22), date(2026, 3, 16)),  # Sunday belongs to the week before it
        (date(2026, 3, 23), date(2026, 3, 23)),  # next Monday starts a new week
        (date(2026, 4, 2), date(2026, 3, 30)),  # across a month boundary
        (date(2027, 1, 1), date(2026, 12, 28)),  # across a year boundary (Friday)
        (date(2026, 1, 4), date(2025, 12, 29)),  # Sunday of ISO week 1 of 2026
        (date(2024, 3, 1), date(2024, 2, 26)),  # leap-year February
    ],
)
def test_week_bucket_starts_on_monday(day: date, monday: date) -> None:
    start = bucket_start(day, Interval.WEEK)

    assert start == monday
    assert start.weekday() == 0
    assert timedelta(0) <= day - start < timedelta(days=7)


def test_every_day_of_a_week_shares_one_bucket() -> None:
    monday = date(2026, 12, 28)
    days = [monday + timedelta(days=offset) for offset in range(7)]

    assert {bucket_start(day, Interval.WEEK) for day in days} == {monday}
    assert bucket_start(monday + timedelta(days=7), Interval.WEEK) == date(2027, 1, 4)


@pytest.mark.parametrize(
    ("day", "first"),
    [
        (date(2026, 5, 1), date(2026, 5, 1)),
        (date(2026, 5, 31), date(2026, 5, 1)),
        (date(2024, 2, 29), date(2024, 2, 1)),
        (date(2026, 12, 31), date(2026, 12, 1)),
        (date(2027, 1, 1), date(2027, 1, 1)),
    ],
)
def test_month_bucket_is_the_first_of_the_month(day: date, first: date) -> None:
    assert bucket_start(day, Interval.MONTH) == first


def test_interval_values_are_the_public_query_names() -> None:
    assert [interval.value for interval in Interval] == ["day", "week", "month"]
    assert Interval("week") is Interval.WEEK
