"""Ticket list plans: flat, index-shaped queries, one per visibility alternative (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from ticketstream.contracts.models import Person, Priority, Source, TicketStatus
from ticketstream_tickets import domain
from ticketstream_tickets.listing import TicketFilter, search_terms_of

NOW = datetime(2026, 7, 1, tzinfo=UTC)


def test_a_plain_filter_is_one_flat_query_with_the_number_window_first() -> None:
    plan = TicketFilter(status=TicketStatus.OPEN, priority="HIGH").plan()

    [query] = plan.window_queries(10, 20)

    assert list(query) == ["number", "status", "priority", "archived"]
    assert query == {
        "number": {"$gte": 10, "$lt": 20},
        "status": "OPEN",
        "priority": "HIGH",
        "archived": False,
    }
    assert not any(key.startswith("$") for key in query)


def test_an_agent_sees_through_one_query_per_alternative() -> None:
    viewer = domain.StaffViewer(user_id="alice", teams=("support", "billing"), sees_everything=False)

    queries = TicketFilter(visible_to=viewer).plan().window_queries(1, 5)

    assert [{k: v for k, v in q.items() if k not in {"number", "archived"}} for q in queries] == [
        {"assignee_ids": "alice"},
        {"assigned_team": "support"},
        {"assigned_team": "billing"},
    ]


def test_a_team_filter_drops_alternatives_that_cannot_hold_and_array_filters_combine() -> None:
    viewer = domain.StaffViewer(user_id="alice", teams=("support",), sees_everything=False)

    queries = TicketFilter(visible_to=viewer, team="billing", assignee_id="bob").plan().window_queries(1, 5)

    assert queries == [
        {
            "number": {"$gte": 1, "$lt": 5},
            "assignee_ids": {"$all": ["bob", "alice"]},
            "assigned_team": "billing",
            "archived": False,
        }
    ]


def test_managers_and_customers_without_a_grant_need_one_query() -> None:
    manager = domain.StaffViewer(user_id="mia", teams=(), sees_everything=True)
    customer = domain.CustomerViewer("Kim@Example.com")

    assert len(TicketFilter(visible_to=manager).plan().alternatives) == 1
    [own] = TicketFilter(customer=customer).plan().alternatives
    assert own["requester.email"] == "kim@example.com"
    granted = TicketFilter(customer=domain.CustomerViewer("kim@example.com", organisation_id="acme")).plan()
    assert [set(q) - {"archived"} for q in granted.alternatives] == [{"requester.email"}, {"organisation_id"}]


def test_search_queries_the_longest_word_and_checks_the_others() -> None:
    plan = TicketFilter(text="Refund for the SSO").plan()

    [query] = plan.alternatives
    assert query["search_terms"] == "refund"
    assert plan.required_terms == {"for", "the", "sso"}
    assert plan.accepts({"search_terms": ["refund", "for", "the", "sso", "login"]})
    assert not plan.accepts({"search_terms": ["refund", "for", "the"]})


def test_a_search_without_words_matches_nothing() -> None:
    assert TicketFilter(text="?!").plan().alternatives == ()


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
