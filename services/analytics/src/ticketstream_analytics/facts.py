"""The per-ticket fact: what each event contributes to it, order-independently. No IO here.

An event never overwrites what another event contributed. The ticket's own fields come from the
highest-version snapshot seen; everything counted (replies, notes, escalations, reopenings, SLA
outcomes) is a map keyed by something unique to the occurrence, so a duplicate lands on the same
key and any delivery order ends in the same fact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ticketstream.contracts import Envelope
from ticketstream.contracts.events import (
    InteractionSummary,
    SlaBreached,
    SlaClockRetargeted,
    SlaClockStarted,
    SlaMet,
    TicketCreated,
    TicketEscalated,
    TicketEvent,
    TicketInteractionAdded,
    TicketStatusChanged,
)
from ticketstream.contracts.models import InteractionType, TicketSnapshot, TicketStatus

# The sla service reads the tier from this custom field; analytics uses the same source.
CUSTOMER_TIER_FIELD = "customer_tier"
INTERNAL_NOTE_TYPES = frozenset({InteractionType.INTERNAL_NOTE, InteractionType.NOTE})
TERMINAL_STATUSES = frozenset({TicketStatus.RESOLVED, TicketStatus.CLOSED})


@dataclass
class FactChange:
    """What one or more events add to one ticket's fact; `merge` folds two changes into one."""

    ticket_id: str
    snapshot: dict[str, Any] | None = None  # "v" (the version) is the first key
    public_replies: dict[str, str] = field(default_factory=dict)  # interaction key -> author id
    internal_notes: dict[str, str] = field(default_factory=dict)  # interaction key -> author id
    customer_messages: dict[str, bool] = field(default_factory=dict)
    escalations: dict[str, int] = field(default_factory=dict)  # sequence -> seconds since created
    reopenings: dict[str, bool] = field(default_factory=dict)  # sequence -> True
    breaches: dict[str, datetime] = field(default_factory=dict)  # target -> earliest breach
    met: dict[str, datetime] = field(default_factory=dict)  # target -> earliest met
    targets: dict[str, tuple[datetime, int]] = field(default_factory=dict)  # target -> latest (at, s)

    def merge(self, other: FactChange) -> None:
        if other.snapshot is not None and (self.snapshot is None or other.snapshot["v"] > self.snapshot["v"]):
            self.snapshot = other.snapshot
        self.public_replies.update(other.public_replies)
        self.internal_notes.update(other.internal_notes)
        self.customer_messages.update(other.customer_messages)
        self.escalations.update(other.escalations)
        self.reopenings.update(other.reopenings)
        for target, at in other.breaches.items():
            self.breaches[target] = min(at, self.breaches.get(target, at))
        for target, at in other.met.items():
            self.met[target] = min(at, self.met.get(target, at))
        for target, latest in other.targets.items():
            self.targets[target] = max(latest, self.targets.get(target, latest))


def safe_key(raw: str) -> str:
    """A map key a document database accepts (no dots, no leading dollar), still unique."""
    return raw.replace("%", "%25").replace(".", "%2E").replace("$", "%24")


def snapshot_fields(ticket: TicketSnapshot) -> dict[str, Any]:
    tier = ticket.custom_fields.get(CUSTOMER_TIER_FIELD)
    return {
        "v": ticket.version,
        "ref": ticket.ref,
        "created_at": ticket.created_at,
        "first_response_at": ticket.first_response_at,
        "resolved_at": ticket.resolved_at,
        "closed_at": ticket.closed_at,
        "status": ticket.status.value,
        "priority": ticket.priority.value,
        "team": ticket.assigned_team,
        "assignees": list(ticket.assignee_ids),
        "category": ticket.category,
        "tags": list(ticket.tags),
        "tier": tier if isinstance(tier, str) else None,
        "source": ticket.source.value,
        "csat_score": ticket.csat.score if ticket.csat else None,
        "csat_comment": ticket.csat.comment if ticket.csat else None,
        "merged_into": ticket.merged_into,
    }


def _count_interaction(change: FactChange, interaction: InteractionSummary) -> None:
    key = safe_key(interaction.id)
    if interaction.type in INTERNAL_NOTE_TYPES:
        change.internal_notes[key] = interaction.author_id or ""
    elif interaction.customer_visible and interaction.author_id:
        change.public_replies[key] = interaction.author_id
    elif interaction.customer_visible:
        change.customer_messages[key] = True


def change_of(envelope: Envelope) -> FactChange | None:
    """The contribution of one event to its ticket's fact; None for events facts ignore."""
    event = envelope.data
    if isinstance(event, TicketEvent):
        change = FactChange(ticket_id=event.ticket_id, snapshot=snapshot_fields(event.ticket))
        if isinstance(event, TicketCreated) and event.first_interaction is not None:
            _count_interaction(change, event.first_interaction)
        elif isinstance(event, TicketInteractionAdded):
            _count_interaction(change, event.interaction)
        elif isinstance(event, TicketEscalated):
            change.escalations[str(event.sequence)] = event.seconds_since_created
        elif isinstance(event, TicketStatusChanged) and (
            event.from_status in TERMINAL_STATUSES and event.to_status not in TERMINAL_STATUSES
        ):
            change.reopenings[str(event.sequence)] = True
        return change
    if isinstance(event, SlaClockStarted | SlaClockRetargeted):
        return FactChange(
            ticket_id=event.ticket_id,
            targets={event.target.value: (event.occurred_at, event.target_seconds)},
        )
    if isinstance(event, SlaBreached):
        return FactChange(ticket_id=event.ticket_id, breaches={event.target.value: event.occurred_at})
    if isinstance(event, SlaMet):
        return FactChange(ticket_id=event.ticket_id, met={event.target.value: event.occurred_at})
    return None


def fold_changes(envelopes: list[Envelope]) -> list[FactChange]:
    """One change per ticket for a batch of events, equal to applying them one by one."""
    by_ticket: dict[str, FactChange] = {}
    for envelope in envelopes:
        change = change_of(envelope)
        if change is None:
            continue
        if change.ticket_id in by_ticket:
            by_ticket[change.ticket_id].merge(change)
        else:
            by_ticket[change.ticket_id] = change
    return list(by_ticket.values())
