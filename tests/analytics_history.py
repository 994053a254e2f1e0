"""A generated ticket history for the analytics tests: the events, and the truth they describe.

`generate_history` plays each ticket's life forward (creation, assignment, replies, notes,
escalations, resolution, reopenings, CSAT, SLA clocks) and returns, per ticket, the contract
events in the order they happened plus a plain record of what happened (`TicketTruth`). Tests
compute the expected reports from the truths with their own code, never with the service's.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ticketstream.contracts import Envelope, encode_event, parse_event
from ticketstream.contracts.events import (
    InteractionSummary,
    SlaBreached,
    SlaClockRetargeted,
    SlaClockStarted,
    SlaMet,
    SlaTarget,
    TicketAssigned,
    TicketCreated,
    TicketCsatRecorded,
    TicketEscalated,
    TicketInteractionAdded,
    TicketStatusChanged,
)
from ticketstream.contracts.models import Csat, InteractionType, Person, TicketSnapshot

BASE = datetime(2026, 9, 1, tzinfo=UTC)
SPAN_DAYS = 60
PRIORITIES = ["LOW", "MEDIUM", "HIGH", "URGENT"]
SOURCES = ["EMAIL", "PORTAL", "CHAT", "API"]
TEAMS = ["support", "billing", "platform", None]
CATEGORIES = ["login", "refund", "outage", None]
TIERS = ["gold", "silver", None]
TAGS = ["bug", "vip", "onboarding"]
AGENTS = [f"agent-{n}" for n in range(6)]
FIRST_RESPONSE_TARGET = {"LOW": 8 * 3600, "MEDIUM": 4 * 3600, "HIGH": 3600, "URGENT": 900}


@dataclass
class TicketTruth:
    ticket_id: str
    ref: str
    created_at: datetime
    priority: str
    source: str
    team: str | None
    category: str | None
    tier: str | None
    tags: list[str]
    assignees: list[str]
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    csat: int | None = None
    csat_comment: str | None = None
    targets: dict[str, int] = field(default_factory=dict)
    clock_met: set[str] = field(default_factory=set)
    clock_breached: set[str] = field(default_factory=set)
    note_authors: list[str] = field(default_factory=list)
    reply_authors: list[str] = field(default_factory=list)


@dataclass
class TicketHistory:
    truth: TicketTruth
    events: list[Any]


class _Life:
    """One ticket being played forward; each `emit` bumps the version and snapshots the state."""

    def __init__(self, rng: random.Random, number: int) -> None:
        self.rng = rng
        created = BASE + timedelta(seconds=rng.randrange(SPAN_DAYS * 86400))
        self.truth = TicketTruth(
            ticket_id=str(uuid.uuid4()),
            ref=f"TKT-{number:06d}",
            created_at=created,
            priority=rng.choice(PRIORITIES),
            source=rng.choice(SOURCES),
            team=rng.choice(TEAMS),
            category=rng.choice(CATEGORIES),
            tier=rng.choice(TIERS),
            tags=sorted(rng.sample(TAGS, rng.randrange(3))),
            assignees=[],
        )
        self.now = created
        self.version = 0
        self.status = "OPEN"
        self.events: list[Any] = []

    def later(self, max_seconds: int) -> datetime:
        self.now += timedelta(seconds=self.rng.randrange(1, max_seconds))
        return self.now

    def snapshot(self) -> TicketSnapshot:
        t = self.truth
        return TicketSnapshot(
            id=t.ticket_id,
            ref=t.ref,
            title=f"Request {t.ref}",
            status=self.status,
            priority=t.priority,
            source=t.source,
            category=t.category,
            tags=t.tags,
            custom_fields={"customer_tier": t.tier} if t.tier else {},
            assignee_ids=t.assignees,
            assigned_team=t.team,
            requester=Person(email="kim@example.com"),
            first_response_at=t.first_response_at,
            resolved_at=t.resolved_at,
            csat=Csat(score=t.csat, comment=t.csat_comment) if t.csat else None,
            version=self.version,
            created_at=t.created_at,
            updated_at=self.now,
        )

    def emit(self, event_class: type, **fields: Any) -> None:
        self.version += 1
        t = self.truth
        self.events.append(
            event_class(
                ticket_id=t.ticket_id,
                ref=t.ref,
                sequence=self.version,
                actor="system",
                occurred_at=self.now,
                ticket=self.snapshot(),
                **fields,
            )
        )

    def interaction(self, kind: InteractionType, author: str | None) -> InteractionSummary:
        visible = kind not in (InteractionType.INTERNAL_NOTE, InteractionType.NOTE)
        return InteractionSummary(
            id=str(uuid.uuid4()), type=kind, customer_visible=visible, author_id=author, created_at=self.now
        )

    def sla(self, event_class: type, target: str, **fields: Any) -> None:
        t = self.truth
        self.events.append(
            event_class(
                ticket_id=t.ticket_id,
                ref=t.ref,
                clock_id=f"{t.ticket_id}:{target}",
                target=SlaTarget(target),
                policy_id=f"default-{t.priority.lower()}",
                priority=t.priority,
                occurred_at=self.now,
                **fields,
            )
        )


def _resolve(life: _Life, first_target: int) -> None:
    life.later(first_target * 8)
    life.truth.resolved_at = life.now
    life.status = "RESOLVED"
    life.emit(TicketStatusChanged, from_status="IN_PROGRESS", to_status="RESOLVED")


def _play(rng: random.Random, number: int) -> TicketHistory:
    life = _Life(rng, number)
    truth = life.truth
    customer = life.interaction(InteractionType.EMAIL_INBOUND, None)
    life.emit(TicketCreated, first_interaction=customer)
    first_target = FIRST_RESPONSE_TARGET[truth.priority]
    truth.targets = {"first_response": first_target, "resolution": first_target * 6}
    life.sla(SlaClockStarted, "first_response", target_seconds=first_target)
    life.sla(SlaClockStarted, "resolution", target_seconds=first_target * 6)
    if rng.random() < 0.1:  # the policy changed its mind: the later target counts
        truth.targets["resolution"] = first_target * 4
        life.later(60)
        life.sla(SlaClockRetargeted, "resolution", target_seconds=truth.targets["resolution"])
    if rng.random() < 0.85:
        truth.assignees = sorted(rng.sample(AGENTS, rng.choice([1, 1, 2])))
        life.later(1800)
        life.emit(TicketAssigned, previous_assignee_ids=[])
    for _ in range(rng.randrange(3)):
        life.later(3000)
        author = rng.choice(AGENTS)
        truth.note_authors.append(author)
        life.emit(TicketInteractionAdded, interaction=life.interaction(InteractionType.INTERNAL_NOTE, author))
    if rng.random() < 0.9:
        life.later(first_target * 2)
        author = truth.assignees[0] if truth.assignees else rng.choice(AGENTS)
        truth.first_response_at = life.now
        truth.reply_authors.append(author)
        reply = life.interaction(InteractionType.EMAIL_OUTBOUND, author)
        life.emit(TicketInteractionAdded, interaction=reply)
        if life.now - truth.created_at < timedelta(seconds=first_target):
            truth.clock_met.add("first_response")
            life.sla(SlaMet, "first_response")
    if "first_response" not in truth.clock_met and rng.random() < 0.8:
        truth.clock_breached.add("first_response")
        life.sla(SlaBreached, "first_response")
    _close(life, first_target)
    return TicketHistory(truth, life.events)


def _close(life: _Life, first_target: int) -> None:
    rng, truth = life.rng, life.truth
    if rng.random() < 0.15:
        life.later(3600)
        life.emit(TicketEscalated, from_level=0, to_level=1, reason="stuck", previous_priority=truth.priority)
    if truth.first_response_at is not None and rng.random() < 0.8:
        _resolve(life, first_target)
        if rng.random() < 0.1:  # reopened; sometimes resolved again, sometimes left open
            life.later(3600)
            truth.resolved_at = None
            life.status = "OPEN"
            life.emit(TicketStatusChanged, from_status="RESOLVED", to_status="OPEN")
            if rng.random() < 0.5:
                _resolve(life, first_target)
        if truth.resolved_at is not None:
            within = truth.resolved_at - truth.created_at < timedelta(seconds=truth.targets["resolution"])
            (truth.clock_met if within else truth.clock_breached).add("resolution")
            life.sla(SlaMet if within else SlaBreached, "resolution")
            if rng.random() < 0.5:
                life.later(86400)
                truth.csat = rng.randint(1, 5)
                truth.csat_comment = "meh" if truth.csat <= 2 else None
                life.emit(TicketCsatRecorded, csat=Csat(score=truth.csat, comment=truth.csat_comment))


def generate_history(count: int, *, seed: int) -> list[TicketHistory]:
    rng = random.Random(seed)
    return [_play(rng, number) for number in range(1, count + 1)]


def delivery_order(histories: list[TicketHistory], *, seed: int, window: int = 25) -> list[Any]:
    """Every event twice: tickets in shuffled order, `window` tickets' events interleaved and
    shuffled together, so a ticket's own events arrive out of order too."""
    rng = random.Random(seed)
    shuffled = histories[:]
    rng.shuffle(shuffled)
    order: list[Any] = []
    for start in range(0, len(shuffled), window):
        chunk = [event for history in shuffled[start : start + window] for event in history.events * 2]
        rng.shuffle(chunk)
        order.extend(chunk)
    return order


def envelopes(events: list[Any]) -> list[Envelope]:
    """The events as a consumer parses them (one id per event object, so duplicates share it)."""
    ids: dict[int, str] = {}
    parsed = []
    for event in events:
        message = encode_event(
            event, service="test", key=event.ticket_id, event_id=ids.setdefault(id(event), str(uuid.uuid4()))
        )
        parsed.append(parse_event(message.headers, message.value))
    return parsed
