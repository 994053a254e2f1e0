"""Ticket list plans: flat, index-shaped queries, one per visibility alternative (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from ticketstream.contracts.models import Person, Priority, Source, TicketStatus
from ticketstream_tickets import domain
from ticketstream_tickets.listing import TicketFilter, search_terms_of

NOW = datetime(2026, 7, 1, tzinfo=UTC)


def test_one_indexed_filter_is_sent_alone_in_the_exact_index_shape() -> None:
    [query] = TicketFilter(status=TicketStatus.OPEN).plan().queries

    window = query.in_window(10, 20)
    assert list(window) == ["number", "status", "archived"]
    assert window == {"number": {"$gte": 10, "$lt": 20}, "status": "OPEN", "archived": False}
    assert not query.checked


def test_with_several_filters_the_most_selective_index_drives_and_the_rest_is_checked() -> None:
    [query] = (
        TicketFilter(status=TicketStatus.OPEN, priority="HIGH", type="BUG", customer_id="c1").plan().queries
    )

    assert query.database == {"customer_id": "c1", "archived": False}
    assert query.checks == {"status": "OPEN", "priority": "HIGH", "type": "BUG"}
    assert query.projection == {"number": 1, "priority": 1, "status": 1, "type": 1}
    assert query.accepts({"number": 3, "status": "OPEN", "priority": "HIGH", "type": "BUG"})
    assert not query.accepts({"number": 3, "status": "OPEN", "priority": "LOW", "type": "BUG"})


def test_without_an_indexed_filter_the_database_filters_in_the_number_window() -> None:
    since = datetime(2026, 1, 1)  # no zone: taken as UTC
    [query] = TicketFilter(type="BUG", created_from=since, breached=True).plan().queries

    assert not query.checked
    assert query.in_window(1, 9) == {
        "number": {"$gte": 1, "$lt": 9},
        "type": "BUG",
        "archived": False,
        "created_at": {"$gte": since.replace(tzinfo=UTC)},
        "sla_breach_at": {"$ne": None},
    }


def test_checks_follow_the_database_semantics_of_each_condition() -> None:
    viewer = domain.StaffViewer(user_id="alice", teams=(), sees_everything=False)
    due = datetime(2026, 7, 2, tzinfo=UTC)
    [query] = TicketFilter(visible_to=viewer, tag="vip", due_before=due, breached=False).plan().queries

    assert query.database == {"assignee_ids": "alice", "archived": False}
    assert query.accepts({"tags": ["vip", "x"], "due_date": NOW, "sla_breach_at": None})
    assert not query.accepts({"tags": ["vip"], "due_date": None, "sla_breach_at": None}), (
        "no due date is not before"
    )
    assert not query.accepts({"tags": ["vip"], "due_date": NOW, "sla_breach_at": NOW})
    assert not query.accepts({"tags": ["x"], "due_date": NOW})


def test_an_agent_sees_through_one_query_per_alternative() -> None:
    viewer = domain.StaffViewer(user_id="alice", teams=("support", "billing"), sees_everything=False)

    queries = TicketFilter(visible_to=viewer).plan().queries

    assert [query.database for query in queries] == [
        {"assignee_ids": "alice", "archived": False},
        {"assigned_team": "support", "archived": False},
        {"assigned_team": "billing", "archived": False},
    ]


def test_a_team_filter_drops_alternatives_that_cannot_hold_and_array_filters_combine() -> None:
    viewer = domain.StaffViewer(user_id="alice", teams=("support",), sees_everything=False)

    [query] = TicketFilter(visible_to=viewer, team="billing", assignee_id="bob").plan().queries

    assert query.database == {"assigned_team": "billing", "archived": False}
    assert query.checks == {"assignee_ids": {"$all": ["bob", "alice"]}}
    assert query.accepts({"assignee_ids": ["alice", "bob"]})
    assert not query.accepts({"assignee_ids": ["bob"]})


def test_managers_and_customers_without_a_grant_need_one_query() -> None:
    manager = domain.StaffViewer(user_id="mia", teams=(), sees_everything=True)
    customer = domain.CustomerViewer("Kim@Example.com")

    assert len(TicketFilter(visible_to=manager).plan().queries) == 1
    [own] = TicketFilter(customer=customer).plan().queries
    assert own.database == {"requester.email": "kim@example.com", "archived": False}
    granted = TicketFilter(customer=domain.CustomerViewer("kim@example.com", organisation_id="acme")).plan()
    assert [set(q.database) - {"archived"} for q in granted.queries] == [
        {"requester.email"},
        {"organisation_id"},
    ]
    assert granted.queries[0].accepts({"requester": {"email": "kim@example.com"}})


def test_search_queries_the_longest_word_and_checks_the_others() -> None:
    [query] = TicketFilter(text="Refund for the SSO").plan().queries

    assert query.database["search_terms"] == "refund"
    assert query.required_terms == {"for", "the", "sso"}
    assert query.accepts({"search_terms": ["refund", "for", "the", "sso", "login"]})
    assert not query.accepts({"search_terms": ["refund", "for", "the"]})


def test_a_search_without_words_matches_nothing() -> None:
    assert TicketFilter(text="?!").plan().queries == ()


def test_tickets_are_found_by_ref_bare_number_and_words_once_each() -> None:
    request = domain.NewTicket(
        title="Login fails",
        description="Login via SSO fails, again",
        source=Source.API,
        requester=Person(email="k@x.test"),
        priority=Priority.LOW,
    )
    ticket = domain.open_ticket(request, ticket_id="t", number=42, customer_id=None, now=NOW)

    assert search_terms_of(ticket) == ["tkt", "0042", "42", "login", "fails", "via", "sso", "again"]
