"""Pure reporting rules: time buckets and roll-ups. No IO here."""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum


class Interval(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


def bucket_start(day: date, interval: Interval) -> date:
    """The first day of the bucket `day` falls in (weeks start on Monday, ISO 8601)."""
    if interval is Interval.DAY:
        return day
    if interval is Interval.WEEK:
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)
