"""Pure routing rules: which team, assignee and priority a new ticket gets. No IO here.

Rules are tried in `position` order and the first whose conditions all hold decides. A rule never
lowers a priority the creator chose; it may raise it. Assignee strategies pick within the team:
round-robin (a rotating position per team) or least-loaded (fewest active tickets).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from ticketstream.contracts.models import Priority
from ticketstream_tickets.domain import DomainError, NewTicket

PRIORITY_RANK = {Priority.LOW: 0, Priority.MEDIUM: 1, Priority.HIGH: 2, Priority.URGENT: 3}
MAX_CONDITION_VALUES = 100
HANDLE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class AssignStrategy(StrEnum):
    NONE = "none"
    ROUND_ROBIN = "round_robin"
    LEAST_LOADED = "least_loaded"


@dataclass(frozen=True)
class RoutingRule:
    id: str
    name: str
    position: int = 100
    enabled: bool = True
    # Conditions: each given list must match (any of its values); empty lists are ignored.
    categories: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    sender_domains: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    # Actions.
    team: str | None = None
    assignee_id: str | None = None
    strategy: AssignStrategy = AssignStrategy.NONE
    priority: Priority | None = None
    add_tags: tuple[str, ...] = field(default_factory=tuple)

    def validate(self) -> None:
        problems = []
        if not any((self.categories, self.labels, self.sender_domains, self.keywords)):
            problems.append(
                "a rule needs at least one condition (categories, labels, sender_domains, keywords)"
            )
        if not any((self.team, self.assignee_id, self.priority, self.add_tags)):
            problems.append("a rule needs at least one action (team, assignee_id, priority, add_tags)")
        if self.strategy is not AssignStrategy.NONE and not self.team:
            problems.append(f"strategy {self.strategy.value} picks within a team: set team")
        if self.strategy is not AssignStrategy.NONE and self.assignee_id:
            problems.append("give either assignee_id or a strategy, not both")
        if any(
            len(values) > MAX_CONDITION_VALUES for values in (self.categories, self.labels, self.keywords)
        ):
            problems.append(f"at most {MAX_CONDITION_VALUES} values per condition")
        if problems:
            raise DomainError("the routing rule is not valid", {"problems": problems})


@dataclass(frozen=True)
class RoutingDecision:
    rule_id: str
    team: str | None
    assignee_id: str | None
    strategy: AssignStrategy
    priority: Priority | None
    add_tags: tuple[str, ...]


DELIVERABILITY_KEYWORDS = (
    "bounce",
    "bounced",
    "bouncing",
    "undeliverable",
    "deliverability",
    "spam folder",
    "junk folder",
    "going to spam",
    "marked as spam",
    "not receiving email",
    "not receiving emails",
    "not receiving any email",
    "emails not arriving",
    "email not arriving",
    "emails are not arriving",
    "not getting emails",
)

DEFAULT_RULES = (
    RoutingRule(
        id="default-email-deliverability",
        name="Email deliverability problems are urgent",
        position=10,
        keywords=DELIVERABILITY_KEYWORDS,
        priority=Priority.URGENT,
        add_tags=("deliverability",),
    ),
)


def _contains_phrase(text: str, phrase: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(phrase.lower())}(?!\w)", text) is not None


def matches(rule: RoutingRule, request: NewTicket) -> bool:
    if not rule.enabled:
        return False
    if rule.categories and (request.category or "").lower() not in {c.lower() for c in rule.categories}:
        return False
    if rule.labels and not {t.lower() for t in request.tags} & {label.lower() for label in rule.labels}:
        return False
    if rule.sender_domains:
        domain = request.requester.email.rpartition("@")[2].lower() if request.requester else ""
        if domain not in {d.lower().lstrip("@") for d in rule.sender_domains}:
            return False
    if rule.keywords:
        text = f"{request.title}\n{request.description}".lower()
        if not any(_contains_phrase(text, keyword) for keyword in rule.keywords):
            return False
    return True


def decide(request: NewTicket, rules: Sequence[RoutingRule]) -> RoutingDecision | None:
    for rule in sorted(rules, key=lambda r: (r.position, r.id)):
        if matches(rule, request):
            return RoutingDecision(
                rule_id=rule.id,
                team=rule.team,
                assignee_id=rule.assignee_id,
                strategy=rule.strategy,
                priority=rule.priority,
                add_tags=rule.add_tags,
            )
    return None


def round_robin_pick(members: Sequence[str], turn: int) -> str | None:
    ordered = sorted(set(members))
    return ordered[turn % len(ordered)] if ordered else None


def least_loaded_pick(load: Mapping[str, int]) -> str | None:
    """The member with the fewest active tickets; ties go to the smallest id (stable)."""
    return min(sorted(load), key=lambda member: load[member]) if load else None


def apply_decision(request: NewTicket, decision: RoutingDecision, *, assignee_id: str | None) -> NewTicket:
    priority = request.priority
    if decision.priority is not None and PRIORITY_RANK[decision.priority] > PRIORITY_RANK[priority]:
        priority = decision.priority
    return replace(
        request,
        assigned_team=decision.team or request.assigned_team,
        assignee_ids=(assignee_id,) if assignee_id else request.assignee_ids,
        priority=priority,
        tags=tuple(sorted({*request.tags, *(tag.lower() for tag in decision.add_tags)})),
        routed_by=decision.rule_id,
    )
