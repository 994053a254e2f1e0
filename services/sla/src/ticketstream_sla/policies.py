"""SLA policies: targets per priority, overridable by customer tier, category or team. No IO here.

A ticket gets the enabled policy of its priority whose conditions it meets and that names the
most conditions (tier, category, team); a policy naming none is the default of its priority.
Policies are versioned: a change makes a new version that new clocks use; running clocks keep
theirs unless the change asks to re-target them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from ticketstream.contracts.events import SlaTarget
from ticketstream.contracts.models import Priority, TicketStatus

DEFAULT_WARNING_FRACTION = 0.75
DEFAULT_PAUSE_STATUSES = frozenset({TicketStatus.PENDING, TicketStatus.WAITING_ON_CUSTOMER})
PAUSABLE_STATUSES = DEFAULT_PAUSE_STATUSES
TWENTY_FOUR_SEVEN = "24x7"
MIN_TARGET_SECONDS = 1  # seconds-long targets make end-to-end tests of warnings and breaches possible
MAX_TARGET_SECONDS = 366 * 24 * 3600  # a year: due times stay computable on any calendar


class PolicyError(ValueError):
    """A policy definition is not valid; `problems` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class NoPolicyError(LookupError):
    """No enabled policy covers a ticket of this priority."""


@dataclass(frozen=True)
class TicketFacts:
    """What policy selection looks at."""

    priority: Priority
    customer_tier: str | None = None
    category: str | None = None
    team: str | None = None


@dataclass(frozen=True)
class Policy:
    id: str
    name: str
    priority: Priority
    first_response_seconds: int
    resolution_seconds: int | None
    next_response_seconds: int | None = None
    customer_tier: str | None = None
    category: str | None = None
    team: str | None = None
    calendar_id: str = TWENTY_FOUR_SEVEN
    warning_fraction: float = DEFAULT_WARNING_FRACTION
    pause_statuses: frozenset[TicketStatus] = field(default=DEFAULT_PAUSE_STATUSES)
    enabled: bool = True
    version: int = 1

    @property
    def conditions(self) -> dict[str, str]:
        named = {"customer_tier": self.customer_tier, "category": self.category, "team": self.team}
        return {name: value for name, value in named.items() if value is not None}

    def covers(self, facts: TicketFacts) -> bool:
        return (
            self.enabled
            and self.priority is facts.priority
            and all(getattr(facts, name) == value for name, value in self.conditions.items())
        )

    def target_seconds(self, target: SlaTarget) -> int | None:
        return {
            SlaTarget.FIRST_RESPONSE: self.first_response_seconds,
            SlaTarget.NEXT_RESPONSE: self.next_response_seconds,
            SlaTarget.RESOLUTION: self.resolution_seconds,
        }[target]


def problems_of(policy: Policy, *, calendar_ids: Iterable[str]) -> list[str]:
    """Every reason the policy cannot be used; empty when it can."""
    problems = []
    for target in SlaTarget:
        seconds = policy.target_seconds(target)
        if seconds is not None and not MIN_TARGET_SECONDS <= seconds <= MAX_TARGET_SECONDS:
            problems.append(
                f"{target.value} target must be {MIN_TARGET_SECONDS} to {MAX_TARGET_SECONDS} s (a year)"
            )
    if policy.resolution_seconds is not None and policy.resolution_seconds < policy.first_response_seconds:
        problems.append("resolution target cannot be shorter than the first-response target")
    if not 0 < policy.warning_fraction < 1:
        problems.append("warning_fraction must be between 0 and 1, e.g. 0.75")
    unpausable = sorted(status.value for status in policy.pause_statuses - PAUSABLE_STATUSES)
    if unpausable:
        problems.append(
            f"clocks pause only while PENDING or WAITING_ON_CUSTOMER, not {', '.join(unpausable)}"
        )
    if policy.calendar_id not in {TWENTY_FOUR_SEVEN, *calendar_ids}:
        problems.append(f"no calendar {policy.calendar_id}")
    return problems


def checked(policy: Policy, *, calendar_ids: Iterable[str]) -> Policy:
    problems = problems_of(policy, calendar_ids=calendar_ids)
    if problems:
        raise PolicyError(problems)
    return policy


def policy_for(facts: TicketFacts, policies: Iterable[Policy]) -> Policy:
    """The covering policy naming the most conditions; ties go to the lowest id (stable)."""
    covering = [policy for policy in policies if policy.covers(facts)]
    if not covering:
        raise NoPolicyError(f"no enabled SLA policy for {facts.priority.value} tickets")
    return min(covering, key=lambda policy: (-len(policy.conditions), policy.id))


def _hours(value: float) -> int:
    return int(timedelta(hours=value).total_seconds())


DEFAULT_POLICIES: tuple[Policy, ...] = (
    Policy("default-urgent", "Urgent", Priority.URGENT, _hours(1), _hours(4)),
    Policy("default-high", "High", Priority.HIGH, _hours(4), _hours(24)),
    Policy("default-medium", "Medium", Priority.MEDIUM, _hours(8), _hours(48)),
    Policy("default-low", "Low", Priority.LOW, _hours(24), _hours(120)),
)
