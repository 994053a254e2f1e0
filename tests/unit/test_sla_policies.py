"""SLA policy selection and validation (pure)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ticketstream.contracts.events import SlaTarget
from ticketstream.contracts.models import Priority, TicketStatus
from ticketstream_sla.policies import (
    DEFAULT_POLICIES,
    NoPolicyError,
    Policy,
    PolicyError,
    TicketFacts,
    checked,
    policy_for,
    problems_of,
)

HIGH_DEFAULT = Policy("high", "High", Priority.HIGH, 3600, 86400)
HIGH_ENTERPRISE = Policy(
    "high-ent", "High, enterprise", Priority.HIGH, 1800, 43200, customer_tier="enterprise"
)
HIGH_ENTERPRISE_BILLING = Policy(
    "high-ent-billing",
    "High, enterprise billing",
    Priority.HIGH,
    900,
    21600,
    customer_tier="enterprise",
    category="billing",
)
ALL = [HIGH_DEFAULT, HIGH_ENTERPRISE, HIGH_ENTERPRISE_BILLING]


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (TicketFacts(Priority.HIGH), "high"),
        (TicketFacts(Priority.HIGH, customer_tier="enterprise"), "high-ent"),
        (TicketFacts(Priority.HIGH, customer_tier="enterprise", category="billing"), "high-ent-billing"),
        (TicketFacts(Priority.HIGH, customer_tier="startup", category="billing"), "high"),
        (TicketFacts(Priority.HIGH, category="billing"), "high"),
    ],
)
def test_the_covering_policy_naming_the_most_conditions_wins(facts: TicketFacts, expected: str) -> None:
    assert policy_for(facts, ALL).id == expected


def test_a_disabled_policy_is_skipped_and_no_cover_is_an_error() -> None:
    disabled = replace(HIGH_ENTERPRISE, enabled=False)

    assert (
        policy_for(TicketFacts(Priority.HIGH, customer_tier="enterprise"), [HIGH_DEFAULT, disabled]).id
        == "high"
    )
    with pytest.raises(NoPolicyError):
        policy_for(TicketFacts(Priority.LOW), ALL)


def test_the_seeded_defaults_cover_every_priority_and_are_valid() -> None:
    for priority in Priority:
        policy = policy_for(TicketFacts(priority), DEFAULT_POLICIES)
        assert problems_of(policy, calendar_ids=[]) == []
    urgent = policy_for(TicketFacts(Priority.URGENT), DEFAULT_POLICIES)
    assert (urgent.target_seconds(SlaTarget.FIRST_RESPONSE), urgent.target_seconds(SlaTarget.RESOLUTION)) == (
        3600,
        4 * 3600,
    )


def test_every_problem_of_a_policy_is_reported_at_once() -> None:
    bad = Policy(
        "bad",
        "Bad",
        Priority.LOW,
        0,
        10,
        warning_fraction=1.5,
        calendar_id="nowhere",
        pause_statuses=frozenset({TicketStatus.IN_PROGRESS}),
    )

    with pytest.raises(PolicyError) as refused:
        checked(bad, calendar_ids=["berlin-office"])

    assert refused.value.problems == [
        "first_response target must be 1 to 31622400 s (a year)",
        "warning_fraction must be between 0 and 1, e.g. 0.75",
        "clocks pause only while PENDING or WAITING_ON_CUSTOMER, not IN_PROGRESS",
        "no calendar nowhere",
    ]
    shorter = Policy("s", "S", Priority.LOW, 100, 50)
    assert problems_of(shorter, calendar_ids=[]) == [
        "resolution target cannot be shorter than the first-response target"
    ]
