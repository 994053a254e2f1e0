"""Unit tests of the ticket facts and the reports over them (pure code, no broker or database).

The fact updates are applied to plain dicts by a small stand-in for the document database's
$set/$max/$min, so any delivery order and any duplication can be checked quickly.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests import analytics_expected as expected
from tests.analytics_history import BASE, SPAN_DAYS, delivery_order, envelopes, generate_history
from ticketstream_analytics import models, reports
from ticketstream_analytics.domain import Interval
from ticketstream_analytics.facts import fold_changes, safe_key
from ticketstream_analytics.store import fact_from_document, fact_update


def _comparable(value: Any) -> Any:
    """Documents compare field by field, in order, as the database does."""
    return tuple(_comparable(v) for v in value.values()) if isinstance(value, dict) else value


def _apply(document: dict[str, Any], update: dict[str, Any]) -> None:
    for operator, fields in update.items():
        for path, value in fields.items():
            *parents, leaf = path.split(".")
            node = document
            for parent in parents:
                node = node.setdefault(parent, {})
            current = node.get(leaf)
            if (
                operator == "$set"
                or current is None
                or (operator == "$max" and _comparable(value) > _comparable(current))
                or (operator == "$min" and value < current)
            ):
                node[leaf] = value


def _project(events: list[Any], *, batch_sizes: random.Random) -> list[reports.TicketFact]:
    documents: dict[str, dict[str, Any]] = {}
    pending = envelopes(events)
    while pending:
        size = batch_sizes.randint(1, 400)
        batch, pending = pending[:size], pending[size:]
        for change in fold_changes(batch):
            _apply(documents.setdefault(change.ticket_id, {"_id": change.ticket_id}), fact_update(change))
    return [fact for document in documents.values() if (fact := fact_from_document(document))]


HISTORY = generate_history(400, seed=7)
TRUTHS = [history.truth for history in HISTORY]
SCOPE = expected.Scope(BASE.date(), (BASE + timedelta(days=SPAN_DAYS)).date())
ZONE = ZoneInfo("UTC")


def _header() -> dict[str, Any]:
    return {"start": SCOPE.first, "end": SCOPE.last, "tz": "UTC"}


def _all_reports(facts: list[reports.TicketFact]) -> dict[str, Any]:
    days = (SCOPE.last - SCOPE.first).days + 1
    return {
        "sla": models.SlaReport(**_header(), **reports.sla_report(facts)).model_dump(mode="json"),
        "times": models.TimesReport(**_header(), **reports.times_report(facts)).model_dump(mode="json"),
        "volume": models.VolumeReport(
            interval="week", **_header(), **reports.volume_report(facts, interval=Interval.WEEK, zone=ZONE)
        ).model_dump(mode="json"),
        "agents": models.AgentsReport(**_header(), **reports.agents_report(facts, days=days)).model_dump(
            mode="json"
        ),
        "csat": models.CsatReport(**_header(), **reports.csat_report(facts, zone=ZONE)).model_dump(
            mode="json"
        ),
        "notes": models.NotesRatioReport(**_header(), **reports.notes_ratio_report(facts)).model_dump(
            mode="json"
        ),
        "detractors": [(f.ref, f.csat_score) for f in reports.detractors(facts)],
        "backlog": models.BacklogReport(
            **_header(), **reports.backlog_report(facts, first=SCOPE.first, last=SCOPE.last, zone=ZONE)
        ).model_dump(mode="json"),
    }


def _expected_reports() -> dict[str, Any]:
    return {
        "sla": expected.sla(TRUTHS, SCOPE),
        "times": expected.times(TRUTHS, SCOPE),
        "volume": expected.volume(TRUTHS, SCOPE, "week"),
        "agents": expected.agents(TRUTHS, SCOPE),
        "csat": expected.csat(TRUTHS, SCOPE),
        "notes": expected.notes_ratio(TRUTHS, SCOPE),
        "detractors": expected.detractor_refs(TRUTHS, SCOPE),
        "backlog": expected.backlog(TRUTHS, SCOPE),
    }


def test_in_order_delivery_gives_the_independently_computed_reports() -> None:
    events = [event for history in HISTORY for event in history.events]
    assert _all_reports(_project(events, batch_sizes=random.Random(1))) == _expected_reports()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_duplicated_shuffled_delivery_gives_the_same_reports(seed: int) -> None:
    events = delivery_order(HISTORY, seed=seed)
    assert len(events) == 2 * sum(len(history.events) for history in HISTORY)
    assert _all_reports(_project(events, batch_sizes=random.Random(seed))) == _expected_reports()


def test_fully_random_order_gives_the_same_reports() -> None:
    events = [event for history in HISTORY for event in history.events * 2]
    random.Random(9).shuffle(events)
    assert _all_reports(_project(events, batch_sizes=random.Random(9))) == _expected_reports()


def test_the_highest_version_snapshot_wins_whatever_the_order() -> None:
    history = next(h for h in HISTORY if len(h.events) > 6)
    ticket_events = [e for e in history.events if hasattr(e, "sequence")]
    facts = _project(list(reversed(ticket_events)), batch_sizes=random.Random(0))
    assert len(facts) == 1
    assert facts[0].status == ticket_events[-1].ticket.status.value
    assert facts[0].resolved_at == ticket_events[-1].ticket.resolved_at


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(1, 11)]
    assert reports.nearest_rank(values, 50) == 5
    assert reports.nearest_rank(values, 90) == 9
    assert reports.nearest_rank([7.0], 90) == 7
    assert reports.nearest_rank([], 50) is None


def test_rates_count_only_tickets_with_a_target_and_strictly_below_it() -> None:
    created = datetime(2026, 1, 1, tzinfo=UTC)

    def fact(seconds: int, *, target: bool = True) -> reports.TicketFact:
        return reports.TicketFact(
            ticket_id=str(seconds),
            ref=f"TKT-{seconds}",
            created_at=created,
            first_response_at=created + timedelta(seconds=seconds),
            resolved_at=None,
            status="OPEN",
            priority="HIGH",
            team=None,
            assignees=(),
            category=None,
            tags=(),
            tier=None,
            source="EMAIL",
            csat_score=None,
            csat_comment=None,
            targets={"first_response": 3600} if target else {},
        )

    body = reports.sla_report([fact(3599), fact(3600), fact(10, target=False)])
    overall = next(r for r in body["rates"] if r["dimension"] == "all" and r["target"] == "first_response")
    assert (overall["tickets"], overall["within_target"], overall["rate"]) == (2, 1, 0.5)
    resolution = next(r for r in body["rates"] if r["dimension"] == "all" and r["target"] == "resolution")
    assert resolution["rate"] is None


def test_volume_days_follow_the_requested_time_zone() -> None:
    late = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    fact = reports.TicketFact(
        ticket_id="t",
        ref="TKT-1",
        created_at=late,
        first_response_at=None,
        resolved_at=None,
        status="OPEN",
        priority="LOW",
        team=None,
        assignees=(),
        category=None,
        tags=(),
        tier=None,
        source="CHAT",
        csat_score=None,
        csat_comment=None,
    )
    berlin = reports.volume_report([fact], interval=Interval.DAY, zone=ZoneInfo("Europe/Berlin"))
    utc = reports.volume_report([fact], interval=Interval.DAY, zone=ZoneInfo("UTC"))
    assert berlin["buckets"][0]["start"] == date(2026, 3, 2)
    assert utc["buckets"][0]["start"] == date(2026, 3, 1)


def test_safe_keys_stay_unique_and_dot_free() -> None:
    raw = ["a.b", "a%2Eb", "$x", "plain"]
    keys = [safe_key(k) for k in raw]
    assert len(set(keys)) == 4
    assert all("." not in k and not k.startswith("$") for k in keys)


def test_a_ticket_closed_without_being_resolved_leaves_the_backlog() -> None:
    created = datetime(2026, 3, 1, 9, tzinfo=UTC)

    def fact(ticket_id: str, status: str, *, resolved: int | None, closed: int | None) -> reports.TicketFact:
        return reports.TicketFact(
            ticket_id=ticket_id,
            ref=f"TKT-{ticket_id}",
            created_at=created,
            first_response_at=None,
            resolved_at=None if resolved is None else created + timedelta(days=resolved),
            status=status,
            priority="LOW",
            team=None,
            assignees=(),
            category=None,
            tags=(),
            tier=None,
            source="EMAIL",
            csat_score=None,
            csat_comment=None,
            closed_at=None if closed is None else created + timedelta(days=closed),
        )

    facts = [
        fact("auto-closed", "CLOSED", resolved=None, closed=2),  # waiting, never answered
        fact("resolved", "CLOSED", resolved=1, closed=3),
        fact("reopened", "OPEN", resolved=None, closed=1),  # closed, then the customer wrote again
        fact("open", "OPEN", resolved=None, closed=None),
    ]
    body = reports.backlog_report(facts, first=date(2026, 3, 1), last=date(2026, 3, 4), zone=ZoneInfo("UTC"))
    assert [point["open"] for point in body["points"]] == [4, 3, 2, 2]
