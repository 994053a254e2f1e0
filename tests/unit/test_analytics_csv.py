"""Unit tests of the CSV rendering every analytics report shares."""

from __future__ import annotations

import csv
import io
from datetime import date

from ticketstream_analytics.api import csv_of
from ticketstream_analytics.models import VolumeBucket, VolumeReport


def test_a_report_becomes_a_summary_row_and_one_row_per_list_entry() -> None:
    report = VolumeReport(
        start=date(2026, 3, 1),
        end=date(2026, 3, 2),
        tz="Europe/Berlin",
        interval="day",
        total=3,
        by_source={"EMAIL": 2, "CHAT": 1},
        buckets=[
            VolumeBucket(start=date(2026, 3, 1), created=2, by_source={"EMAIL": 2}),
            VolumeBucket(start=date(2026, 3, 2), created=1, by_source={"CHAT": 1}),
        ],
    )
    rows = list(csv.DictReader(io.StringIO(csv_of(report))))
    assert [row["section"] for row in rows] == ["summary", "buckets", "buckets"]
    assert rows[0]["total"] == "3" and rows[0]["by_source.EMAIL"] == "2" and rows[0]["tz"] == "Europe/Berlin"
    assert (rows[1]["start"], rows[1]["created"], rows[1]["by_source.EMAIL"]) == ("2026-03-01", "2", "2")
    assert (rows[2]["by_source.CHAT"], rows[2]["by_source.EMAIL"]) == ("1", "")
