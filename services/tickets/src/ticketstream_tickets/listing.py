"""How ticket lists are read: filters become flat, index-shaped queries over windows of ticket
numbers. No IO here; the store runs the plan.

Why this shape: the embedded MongoDB-wire server answers a top-level `$or`/`$and` by scanning
every ticket, and uses a compound index only when the query's equality fields are exactly the
index's leading fields followed by one range. So every query is flat and starts with the `number`
window (the fallback index); when the filters include an indexed equality, the most selective one
alone goes to the database, in a compound index's exact shape, and the other conditions are
checked here on the fields they need. An either/or condition (an agent's own tickets or their
teams'; a customer's own or their organisation's) becomes one query per alternative, merged by
the store. Text search matches whole words through an indexed `search_terms` array.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from ticketstream.contracts.models import TicketSnapshot, TicketStatus
from ticketstream_tickets import domain

WORD = re.compile(r"\w+")
MAX_SEARCH_TERMS = 1_000
ARRAY_FIELDS = frozenset({"assignee_ids", "tags", "search_terms"})

# The fields a list is commonly narrowed by, most selective first: the first one a filter uses
# drives the database read, the others are checked on what it returns. The store indexes each
# followed by `archived` (always in the query) and `number` (the window): the exact shape the
# embedded server serves from a compound index. Priority is not indexed: with four values it
# narrows too little to pay for an index on every write.
INDEXED_FILTERS = (
    "search_terms",
    "customer_id",
    "requester.email",
    "organisation_id",
    "assignee_ids",
    "tags",
    "category",
    "assigned_team",
    "status",
)


class SortOrder(StrEnum):
    NEWEST = "newest"
    OLDEST = "oldest"


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def search_terms_of(ticket: TicketSnapshot) -> list[str]:
    """The words a ticket is found by: its ref (also as a bare number), title and description."""
    number = domain.parse_ref(ticket.ref)
    terms = [*words(ticket.ref), *([str(number)] if number is not None else [])]
    terms += words(ticket.title) + words(ticket.description)
    return list(dict.fromkeys(terms))[:MAX_SEARCH_TERMS]


@dataclass(frozen=True)
class TicketFilter:
    """What a ticket list may be narrowed by; every field is optional and they combine (AND)."""

    status: TicketStatus | None = None
    priority: str | None = None
    type: str | None = None
    source: str | None = None
    assignee_id: str | None = None
    team: str | None = None
    tag: str | None = None
    category: str | None = None
    customer_id: str | None = None
    customer: domain.CustomerViewer | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    updated_from: datetime | None = None
    updated_to: datetime | None = None
    breached: bool | None = None
    due_before: datetime | None = None
    text: str | None = None
    archived: bool | None = False
    visible_to: domain.StaffViewer | None = None

    def plan(self) -> ListPlan:
        base: dict[str, Any] = {
            name: value
            for name, value in {
                "status": self.status.value if self.status else None,
                "priority": self.priority,
                "type": self.type,
                "source": self.source,
                "assignee_ids": self.assignee_id,
                "assigned_team": self.team,
                "tags": self.tag,
                "category": self.category,
                "customer_id": self.customer_id,
                "archived": self.archived,
            }.items()
            if value is not None
        }
        base |= time_range("created_at", self.created_from, self.created_to)
        base |= time_range("updated_at", self.updated_from, self.updated_to)
        if self.breached is not None:
            base["sla_breach_at"] = {"$ne": None} if self.breached else None
        if self.due_before is not None:
            base["due_date"] = {"$lt": _aware(self.due_before)}
        required: frozenset[str] = frozenset()
        if self.text is not None:
            terms = sorted(set(words(self.text)), key=len, reverse=True)
            if not terms:
                return ListPlan(())  # nothing to search for matches nothing
            # The longest word is likely the rarest: the index finds it, the rest are checked here.
            base["search_terms"] = terms[0]
            required = frozenset(terms[1:])
        alternatives = [
            merged for alternative in self._either() if (merged := _merge(base, alternative)) is not None
        ]
        return ListPlan(tuple(WindowQuery.split(conditions, required) for conditions in alternatives))

    def _either(self) -> list[dict[str, Any]]:
        """The alternatives a caller's visibility allows; [{}] when it does not narrow."""
        viewer = self.visible_to
        if viewer is not None and not viewer.sees_everything:
            return [{"assignee_ids": viewer.user_id}, *({"assigned_team": team} for team in viewer.teams)]
        if self.customer is not None:
            own = {"requester.email": self.customer.email.lower()}
            if self.customer.organisation_id is None:
                return [own]
            return [own, {"organisation_id": self.customer.organisation_id}]
        return [{}]


def time_range(field: str, start: datetime | None, end: datetime | None) -> dict[str, Any]:
    bounds = {"$gte": _aware(start), "$lt": _aware(end)}
    present = {operator: value for operator, value in bounds.items() if value is not None}
    return {field: present} if present else {}


def _merge(base: Mapping[str, Any], alternative: Mapping[str, Any]) -> dict[str, Any] | None:
    """Both sets of conditions as one flat query; None when they cannot both hold."""
    merged = dict(base)
    for name, value in alternative.items():
        if name not in merged or merged[name] == value:
            merged[name] = value
        elif name in ARRAY_FIELDS:
            merged[name] = {"$all": [merged[name], value]}
        else:
            return None  # e.g. team=billing asked by an agent who sees it only through support
    return merged


def _aware(moment: datetime | None) -> datetime | None:
    """Times without a zone are UTC (they are compared with stored, zoned times)."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


@dataclass(frozen=True)
class WindowQuery:
    """One alternative of a list: what the database is asked and what is checked on what it returns.

    When an indexed equality is among the conditions, the database gets only that one (and
    `archived`): the exact shape of a compound index, so it reads just the matching tickets. The
    other conditions are checked here, on the fields they need.
    """

    database: dict[str, Any]
    checks: dict[str, Any] = field(default_factory=dict)
    required_terms: frozenset[str] = frozenset()

    @classmethod
    def split(cls, conditions: Mapping[str, Any], required_terms: frozenset[str]) -> WindowQuery:
        driving = next(
            (
                name
                for name in INDEXED_FILTERS
                if name in conditions and not isinstance(conditions[name], dict)
            ),
            None,
        )
        if driving is None:
            return cls(database=dict(conditions), required_terms=required_terms)
        sent = {driving, "archived"}
        return cls(
            database={name: value for name, value in conditions.items() if name in sent},
            checks={name: value for name, value in conditions.items() if name not in sent},
            required_terms=required_terms,
        )

    def in_window(self, lower: int, upper: int) -> dict[str, Any]:
        """The database query for tickets numbered lower ≤ n < upper, the window first."""
        return {"number": {"$gte": lower, "$lt": upper}, **self.database}

    @property
    def checked(self) -> bool:
        """Whether documents are checked after the database chose them (so reads take no limit)."""
        return bool(self.checks or self.required_terms)

    @property
    def projection(self) -> dict[str, int]:
        """What a checked read needs: the number and the fields the checks look at."""
        needed = {"number", *self.checks, *(("search_terms",) if self.required_terms else ())}
        return dict.fromkeys(sorted(needed), 1)

    def accepts(self, document: Mapping[str, Any]) -> bool:
        if not self.required_terms <= set(document.get("search_terms", ())):
            return False
        return all(_holds(_value_at(document, name), condition) for name, condition in self.checks.items())


@dataclass(frozen=True)
class ListPlan:
    queries: tuple[WindowQuery, ...]


def _value_at(document: Mapping[str, Any], dotted: str) -> Any:
    value: Any = document
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def _holds(value: Any, condition: Any) -> bool:
    """Whether a stored value meets a condition written as the database query would have it."""
    if isinstance(condition, dict):
        return all(_operator_holds(value, operator, operand) for operator, operand in condition.items())
    if isinstance(value, list):
        return condition in value
    return bool(value == condition)


def _operator_holds(value: Any, operator: str, operand: Any) -> bool:
    match operator:
        case "$ne":
            return bool(value != operand)
        case "$gte":
            return value is not None and value >= operand
        case "$lt":
            return value is not None and value < operand
        case "$all":
            return isinstance(value, list) and all(item in value for item in operand)
    raise ValueError(f"no check for {operator}")
