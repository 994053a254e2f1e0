"""Routing rules as pure functions: matching, ordering, priorities and assignee strategies."""

from __future__ import annotations

import pytest

from ticketstream.contracts.models import Person, Priority, Source
from ticketstream_tickets import routing
from ticketstream_tickets.domain import DomainError, NewTicket


def request(**fields: object) -> NewTicket:
    base: dict[str, object] = {
        "title": "Help",
        "description": "",
        "source": Source.EMAIL,
        "requester": Person(email="pat@acme.example"),
    }
    base.update(fields)
    return NewTicket(**base)  # type: ignore[arg-type]


RULE = routing.RoutingRule(id="r", name="r", keywords=("x-ray",), team="t")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Our newsletter bounced", True),
        ("Mail is going to spam for Gmail users", True),
        ("We are NOT RECEIVING EMAILS since Monday", True),
        ("Bouncer app crashes", False),
        ("Spam filter settings page", False),
        ("Invoices are late", False),
    ],
)
def test_default_deliverability_rule(text: str, expected: bool) -> None:
    [rule] = routing.DEFAULT_RULES
    assert routing.matches(rule, request(title=text)) is expected


def test_all_given_conditions_must_hold() -> None:
    rule = routing.RoutingRule(
        id="r", name="r", categories=("Billing",), sender_domains=("@Acme.example",), team="fin"
    )
    assert routing.matches(rule, request(category="billing"))
    assert not routing.matches(rule, request(category="billing", requester=Person(email="x@other.example")))
    assert not routing.matches(rule, request(category="sales"))
    assert not routing.matches(rule, request(category="billing", requester=None))


def test_labels_match_any_tag_and_disabled_rules_never_match() -> None:
    rule = routing.RoutingRule(id="r", name="r", labels=("vip", "gold"), team="vip")
    assert routing.matches(rule, request(tags=("gold",)))
    assert not routing.matches(rule, request(tags=("silver",)))
    assert not routing.matches(
        routing.RoutingRule(**{**rule.__dict__, "enabled": False}), request(tags=("gold",))
    )


def test_first_rule_by_position_decides() -> None:
    late = routing.RoutingRule(id="a", name="late", position=50, keywords=("refund",), team="late")
    early = routing.RoutingRule(id="b", name="early", position=5, keywords=("refund",), team="early")
    decision = routing.decide(request(title="Refund please"), [late, early])
    assert decision is not None and decision.rule_id == "b" and decision.team == "early"
    assert routing.decide(request(title="Hello"), [late, early]) is None


def test_rules_raise_but_never_lower_a_priority() -> None:
    decision = routing.RoutingDecision("r", None, None, routing.AssignStrategy.NONE, Priority.HIGH, ("x",))
    raised = routing.apply_decision(request(priority=Priority.LOW), decision, assignee_id=None)
    kept = routing.apply_decision(request(priority=Priority.URGENT), decision, assignee_id="ann")
    assert raised.priority is Priority.HIGH and raised.routed_by == "r" and raised.tags == ("x",)
    assert kept.priority is Priority.URGENT and kept.assignee_ids == ("ann",)


def test_round_robin_and_least_loaded() -> None:
    members = ["cy", "ann", "ben", "ann"]
    assert [routing.round_robin_pick(members, turn) for turn in range(4)] == ["ann", "ben", "cy", "ann"]
    assert routing.round_robin_pick([], 3) is None
    assert routing.least_loaded_pick({"ben": 2, "ann": 2, "cy": 5}) == "ann"
    assert routing.least_loaded_pick({"ben": 0, "ann": 1}) == "ben"
    assert routing.least_loaded_pick({}) is None


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"team": "t"}, "at least one condition"),
        ({"keywords": ("xx",)}, "at least one action"),
        (
            {"keywords": ("xx",), "priority": Priority.HIGH, "strategy": routing.AssignStrategy.ROUND_ROBIN},
            "set team",
        ),
        (
            {
                "keywords": ("xx",),
                "team": "t",
                "assignee_id": "a",
                "strategy": routing.AssignStrategy.LEAST_LOADED,
            },
            "not both",
        ),
    ],
)
def test_invalid_rules_say_why(fields: dict[str, object], problem: str) -> None:
    with pytest.raises(DomainError) as error:
        routing.RoutingRule(id="r", name="r", **fields).validate()  # type: ignore[arg-type]
    assert any(problem in item for item in error.value.details["problems"])  # type: ignore[index]


def test_a_valid_rule_passes_validation() -> None:
    RULE.validate()
