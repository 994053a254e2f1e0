"""The in-memory read model selects what the database query selects, before and after updates."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from ticketstream_analytics import reports
from ticketstream_analytics.readmodel import FactIndex, matches
from ticketstream_analytics.reports import TicketFact

T0 = datetime(2026, 10, 1, tzinfo=UTC)
FILTERS: list[dict[str, str]] = [
    {},
    {"team": "billing"},
    {"assignees": "agent-2"},
    {"priority": "HIGH", "source": "CHAT"},
    {"tier": "gold", "category": "refund"},
]


def random_fact(rng: random.Random, number: int) -> TicketFact:
    created = T0 + timedelta(seconds=rng.randrange(60 * 86400))
    answered = created + timedelta(seconds=rng.randrange(1, 9000)) if rng.random() < 0.8 else None
    resolved = created + timedelta(seconds=rng.randrange(9000, 400_000)) if rng.random() < 0.6 else None
    return TicketFact(
        ticket_id=f"t-{number}",
        ref=f"TKT-{number}",
        created_at=created,
        first_response_at=answered,
        resolved_at=resolved,
        status="RESOLVED" if resolved else "OPEN",
        priority=rng.choice(["LOW", "HIGH"]),
        team=rng.choice(["billing", "support", None]),
        assignees=tuple(rng.sample(["agent-1", "agent-2", "agent-3"], rng.randrange(3))),
        category=rng.choice(["refund", "login", None]),
        tags=tuple(rng.sample(["vip", "bug"], rng.randrange(3))),
        tier=rng.choice(["gold", None]),
        source=rng.choice(["EMAIL", "CHAT"]),
        csat_score=rng.choice([None, 1, 4]),
        csat_comment=None,
        targets={"first_response": 3600} if rng.random() < 0.7 else {},
        breached=frozenset({"first_response"}) if rng.random() < 0.3 else frozenset(),
        public_replies=("agent-1",) * rng.randrange(3),
    )


def database_selection(
    facts: dict[str, TicketFact],
    *,
    created_from: datetime | None,
    created_before: datetime,
    open_at: datetime | None,
    filters: dict[str, str],
) -> list[TicketFact]:
    """What the database query answers, written out plainly, in the read model's order."""
    selected = [
        f
        for f in facts.values()
        if (created_from is None or f.created_at >= created_from)
        and f.created_at < created_before
        and (open_at is None or f.resolved_at is None or f.resolved_at >= open_at)
        and all(
            (value in f.assignees) if name == "assignees" else getattr(f, name) == value
            for name, value in filters.items()
        )
    ]
    return sorted(selected, key=lambda f: (f.created_at, f.ticket_id))


def assert_same_selections(index: FactIndex, facts: dict[str, TicketFact]) -> None:
    windows = [(T0 + timedelta(days=10), T0 + timedelta(days=40)), (None, T0 + timedelta(days=61))]
    for created_from, created_before in windows:
        for open_at in (None, T0 + timedelta(days=20)):
            for filters in FILTERS:
                arguments = {
                    "created_from": created_from,
                    "created_before": created_before,
                    "open_at": open_at,
                    "filters": filters,
                }
                assert index.facts(**arguments) == database_selection(facts, **arguments), arguments


def assert_same_backlog(index: FactIndex, facts: dict[str, TicketFact]) -> None:
    zone = ZoneInfo("Europe/Berlin")
    first, last = date(2026, 10, 5), date(2026, 11, 20)
    start = datetime.combine(first, datetime.min.time(), tzinfo=zone)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    single = [{}, {"team": "billing"}, {"assignees": "agent-2"}, {"source": "CHAT"}, {"tier": "nobody"}]
    for filters in single:
        selected = database_selection(
            facts, created_from=None, created_before=end, open_at=start, filters=filters
        )
        counters = index.backlog_counters(filters)
        assert counters is not None
        assert reports.backlog_points(*counters, first, last, zone) == reports.backlog_report(
            selected, first=first, last=last, zone=zone
        ), filters
    assert index.backlog_counters({"team": "billing", "priority": "HIGH"}) is None  # scanned instead


def test_selections_equal_the_database_query_after_new_and_changed_facts():
    rng = random.Random(7)
    facts = {f.ticket_id: f for f in (random_fact(rng, n) for n in range(1500))}
    index = FactIndex(facts.values())  # the first load: one bulk sort
    assert len(index) == 1500 and index.version == 1
    assert_same_selections(index, facts)
    assert_same_backlog(index, facts)

    # A poll: some tickets resolved or reopened, one moved in time, new tickets, repeats.
    updates = [
        dataclasses.replace(facts["t-1"], resolved_at=None, status="OPEN"),
        dataclasses.replace(facts["t-2"], resolved_at=facts["t-2"].created_at + timedelta(hours=3)),
        dataclasses.replace(facts["t-3"], created_at=T0 + timedelta(days=30), team="support"),
        dataclasses.replace(facts["t-4"], assignees=("agent-2",), targets={"resolution": 60}),
        *(random_fact(rng, n) for n in range(1500, 1550)),
        facts["t-5"],  # read again by the overlapping poll: nothing changes
    ]
    changed = [u for u in updates if facts.get(u.ticket_id) != u]
    assert len(changed) >= 52  # the re-read fact and at most a no-op replace or two are not changes
    assert index.upsert(updates) == len(changed)
    facts.update((f.ticket_id, f) for f in updates)
    assert len(index) == 1550 and index.get("t-3") == facts["t-3"]
    assert_same_selections(index, facts)
    assert_same_backlog(index, facts)
    assert index.upsert([facts["t-1"], facts["t-2"]]) == 0 and index.version == 2


def test_a_large_poll_rebuilds_the_order_and_equals_one_by_one_updates():
    rng = random.Random(9)
    facts = {f.ticket_id: f for f in (random_fact(rng, n) for n in range(3000))}
    one_by_one = FactIndex()
    for fact in facts.values():
        one_by_one.upsert([fact])
    bulk = FactIndex(facts.values())
    window = {"created_from": T0, "created_before": T0 + timedelta(days=61), "filters": {}}
    assert (
        one_by_one.facts(**window)
        == bulk.facts(**window)
        == database_selection(facts, open_at=None, **window)
    )


def test_reports_over_the_read_model_equal_reports_over_the_same_facts():
    rng = random.Random(11)
    facts = {f.ticket_id: f for f in (random_fact(rng, n) for n in range(800))}
    index = FactIndex(facts.values())
    selected = index.facts(created_from=T0, created_before=T0 + timedelta(days=30), filters={})
    plain = database_selection(
        facts, created_from=T0, created_before=T0 + timedelta(days=30), open_at=None, filters={}
    )
    assert reports.sla_report(selected) == reports.sla_report(plain)
    assert reports.times_report(selected) == reports.times_report(plain)
    assert reports.notes_ratio_report(selected) == reports.notes_ratio_report(plain)
    # Shared values: equal team names and target maps are one object across facts.
    billing = [f for f in selected if f.team == "billing"]
    assert len({id(f.team) for f in billing}) == 1
    assert len({id(f.targets) for f in selected if f.targets == {"first_response": 3600}}) == 1


def test_a_ticket_resolved_before_it_was_created_disables_the_backlog_shortcut():
    fact = random_fact(random.Random(3), 1)
    index = FactIndex([dataclasses.replace(fact, resolved_at=fact.created_at - timedelta(seconds=1))])
    assert index.backlog_counters({}) is None
    index.upsert([dataclasses.replace(fact, resolved_at=None)])
    assert index.backlog_counters({}) is not None


def test_the_agent_filter_matches_any_assignee():
    fact = dataclasses.replace(random_fact(random.Random(1), 1), assignees=("agent-1", "agent-3"))
    assert matches(fact, {"assignees": "agent-3"}) and not matches(fact, {"assignees": "agent-2"})
    assert not matches(fact, {"assignees": "agent-1", "team": "nobody"})
