"""How ticket lists are read: filters become flat, index-shaped queries over windows of ticket
numbers. No IO here; the store runs the plan.

Why this shape: the embedded MongoDB-wire server answers a top-level `$or`/`$and` by scanning
every ticket, and uses a compound index only when the query's equality fields are exactly the
index's leading fields followed by one range. So every query here is flat, starts with the
`number` window (the fallback index when no compound index fits), and an either/or condition
(an agent's own tickets or their teams'; a customer's own or their organisation's) becomes one
query per alternative, merged by the store. Text search matches whole words through an indexed
`search_terms` array on each ticket; further words are checked here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from ticketstream.contracts.models import TicketSnapshot, TicketStatus
from ticketstream_tickets import domain

WORD = re.compile(r"\w+")
MAX_SEARCH_TERMS = 1_000
ARRAY_FIELDS = frozenset({"assignee_ids", "tags", "search_terms"})

# Each field a list is commonly narrowed by alone. The store indexes each followed by `archived`
# (always in the query) and `number` (the window): the exact shape the embedded server serves
# from a compound index.
INDEXED_FILTERS = (
    "status",
    "priority",
    "customer_id",
    "assignee_ids",
    "assigned_team",
    "tags",
    "category",
    "search_terms",
    "requester.email",
    "organisation_id",
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
            base["due_date"] = {"$lt": self.due_before}
        required: frozenset[str] = frozenset()
        if self.text is not None:
            terms = sorted(set(words(self.text)), key=len, reverse=True)
            if not terms:
                return ListPlan(alternatives=())  # nothing to search for matches nothing
            # The longest word is likely the rarest: the index finds it, the rest are checked here.
            base["search_terms"] = terms[0]
            required = frozenset(terms[1:])
        alternatives = [
            merged for alternative in self._either() if (merged := _merge(base, alternative)) is not None
        ]
        return ListPlan(alternatives=tuple(alternatives), required_terms=required)

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
    bounds = {"$gte": start, "$lt": end}
    present = {operator: value for operator, value in bounds.items() if value is not None}
    return {field: present} if present else {}


def _merge(base: Mapping[str, Any], alternative: Mapping[str, Any]) -> dict[str, Any] | None:
    """Both sets of conditions as one flat query; None when they cannot both hold."""
    merged = dict(base)
    for field, value in alternative.items():
        if field not in merged or merged[field] == value:
            merged[field] = value
        elif field in ARRAY_FIELDS:
            merged[field] = {"$all": [merged[field], value]}
        else:
            return None  # e.g. team=billing asked by an agent who sees it only through support
    return merged


@dataclass(frozen=True)
class ListPlan:
    alternatives: tuple[dict[str, Any], ...]
    required_terms: frozenset[str] = frozenset()

    def window_queries(self, lower: int, upper: int) -> list[dict[str, Any]]:
        """One query per alternative for tickets numbered lower ≤ n < upper, the window first."""
        return [{"number": {"$gte": lower, "$lt": upper}, **alternative} for alternative in self.alternatives]

    @property
    def filters_after_reading(self) -> bool:
        """Whether documents are checked after the database chose them (so reads take no limit)."""
        return bool(self.required_terms)

    def accepts(self, document: Mapping[str, Any]) -> bool:
        return self.required_terms <= set(document.get("search_terms", ()))
