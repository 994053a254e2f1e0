"""Durations as the sla API accepts them (ticketstream_sla.models.duration)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ticketstream_sla.models import duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2h", timedelta(hours=2)),
        ("30m", timedelta(minutes=30)),
        ("90s", timedelta(seconds=90)),
        ("1d", timedelta(days=1)),
        ("45", timedelta(seconds=45)),
        ("0", timedelta()),
        ("2H", timedelta(hours=2)),
        (" 15m ", timedelta(minutes=15)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert duration(text) == expected


def test_two_hours_is_7200_seconds() -> None:
    assert duration("2h").total_seconds() == 7200


@pytest.mark.parametrize("text", ["", "h", "2x", "-5", "1.5h", "2h30m", "2 h", "two hours", "2hours"])
def test_text_that_is_not_a_duration_is_refused_with_examples(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration such as 2h, 30m, 90s or 1d"):
        duration(text)


@settings(max_examples=200, deadline=None)
@given(amount=st.integers(min_value=0, max_value=366), unit=st.sampled_from(["", "s", "m", "h", "d"]))
def test_every_unit_scales_the_amount(amount: int, unit: str) -> None:
    expected = {
        "": timedelta(seconds=amount),
        "s": timedelta(seconds=amount),
        "m": timedelta(minutes=amount),
        "h": timedelta(hours=amount),
        "d": timedelta(days=amount),
    }[unit]

    assert duration(f"{amount}{unit}") == expected


@pytest.mark.parametrize("text", ["367d", "8785h", "99999999999d", "4000000d", "1234567890123"])
def test_a_window_longer_than_a_year_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"longer than 366 days|is not a duration"):
        duration(text)
