"""The queue projection: one entry per ticket, one state per SLA clock, and sharded counters.

Written by the analytics consumers from tickets.v1 and sla.v1, read by the dashboard. Status
counts are counters moved by deltas in the same transaction as the entry, because scanning 100k
entries per request is far too slow on the embedded database; "at risk" depends on the time of
the request, so it is an indexed range query over the due times of running clocks instead.

Every collection name ends with `generation`, so a rebuild can fill fresh collections and switch
over; the inbox consumer name carries it too, so a rebuild does not see the live claims.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel

from ticketstream.contracts import Envelope
from ticketstream.contracts.events import SlaEvent, TicketEvent
from ticketstream.db import Database, Document, IndexPlan, MongoClient, Session
from ticketstream.inbox import apply_once
from ticketstream_analytics.dashboard import (
    ClockObservation,
    ClockState,
    Measure,
    TicketFacts,
    at_risk_bounds,
    counted_measures,
    counter_deltas,
    counter_shard,
    is_newer,
    observe_clock,
    ticket_facts,
)

QUEUE_TICKETS = "queue_tickets"
QUEUE_CLOCKS = "queue_clocks"
QUEUE_COUNTERS = "queue_counters"
QUEUE_CHANGES = "queue_changes"
QUEUE_CONSUMER = "analytics-queue"


@dataclass(frozen=True)
class QueueCollections:
    """The collection names of one generation of the projection ("" is the live one)."""

    generation: str = ""

    @property
    def tickets(self) -> str:
        return QUEUE_TICKETS + self.generation

    @property
    def clocks(self) -> str:
        return QUEUE_CLOCKS + self.generation

    @property
    def counters(self) -> str:
        return QUEUE_COUNTERS + self.generation

    @property
    def changes(self) -> str:
        return QUEUE_CHANGES + self.generation

    @property
    def consumer(self) -> str:
        return QUEUE_CONSUMER + self.generation


def queue_indexes(generation: str = "") -> IndexPlan:
    names = QueueCollections(generation)
    return {
        names.clocks: [
            IndexModel([("risk_due_at", ASCENDING)]),
            IndexModel([("ticket_id", ASCENDING)]),
        ],
    }


INDEXES: IndexPlan = queue_indexes()


@dataclass(frozen=True)
class CounterValue:
    team: str | None
    measure: Measure
    count: int


class QueueStore:
    def __init__(self, client: MongoClient, database: Database, *, generation: str = "") -> None:
        self._client = client
        self._database = database
        self._names = QueueCollections(generation)

    async def apply(self, envelope: Envelope) -> bool:
        """Fold one tickets.v1 or sla.v1 event into the queue, once per event id; True if it changed it.

        Other events are ignored. Within one event id, the ticket's highest version and each
        clock's latest observation win, so duplicates under new ids and reordering converge too.
        """
        event = envelope.data
        if isinstance(event, TicketEvent):
            ticket = event.ticket

            async def apply_ticket(session: Session) -> bool:
                return await self._apply_ticket(session, ticket.id, ticket_facts(ticket))

            work = apply_ticket
        elif isinstance(event, SlaEvent):
            observation = observe_clock(event, event_id=envelope.id)
            if observation is None:
                return False
            clock = observation

            async def apply_clock(session: Session) -> bool:
                return await self._apply_clock(session, clock)

            work = apply_clock
        else:
            return False
        changed = await apply_once(
            self._client, self._database, envelope, consumer=self._names.consumer, work=work
        )
        return bool(changed)

    async def _apply_ticket(self, session: Session, ticket_id: str, facts: TicketFacts) -> bool:
        entry = await self._database[self._names.tickets].find_one({"_id": ticket_id}, session=session)
        if entry is not None and int(entry.get("version", 0)) >= facts.version:
            return False  # an older or repeated version of what we already hold
        breached_clocks = list(entry.get("breached_clocks", [])) if entry else []
        await self._save_entry(session, ticket_id, entry, facts, breached_clocks)
        if entry is None or entry.get("open") != facts.open or entry.get("team") != facts.team:
            await self._database[self._names.clocks].update_many(
                {"ticket_id": ticket_id},
                {"$set": {"ticket_open": facts.open, "team": facts.team}},
                session=session,
            )
        await self._mark_changed(session, ticket_id)
        return True

    async def _apply_clock(self, session: Session, observation: ClockObservation) -> bool:
        clocks = self._database[self._names.clocks]
        current = await clocks.find_one({"_id": observation.clock_id}, session=session)
        if current is not None and not is_newer(observation, _order_of(current)):
            return False
        ticket_id = observation.ticket_id
        entry = await self._database[self._names.tickets].find_one({"_id": ticket_id}, session=session)
        facts = _facts_of(entry)
        await clocks.update_one(
            {"_id": observation.clock_id},
            {"$set": _clock_fields(observation, facts)},
            upsert=True,
            session=session,
        )
        breached = set(entry.get("breached_clocks", [])) if entry else set()
        if observation.state is ClockState.BREACHED:
            breached.add(observation.clock_id)
        else:
            breached.discard(observation.clock_id)
        await self._save_entry(session, ticket_id, entry, facts, sorted(breached))
        await self._mark_changed(session, ticket_id)
        return True

    async def _save_entry(
        self,
        session: Session,
        ticket_id: str,
        entry: Document | None,
        facts: TicketFacts,
        breached_clocks: list[str],
    ) -> None:
        """Store the entry and move the counters from what it counted before to what it counts now."""
        before = frozenset(Measure(name) for name in entry.get("counted", [])) if entry else frozenset()
        before_team = entry.get("counted_team") if entry else None
        after = counted_measures(facts, has_breached_clock=bool(breached_clocks))
        await self._database[self._names.tickets].update_one(
            {"_id": ticket_id},
            {"$set": _entry_fields(facts, breached_clocks, after)},
            upsert=True,
            session=session,
        )
        shard = counter_shard(ticket_id)
        by_team: dict[str | None, dict[str, int]] = {}
        for (team, measure), delta in counter_deltas(before, before_team, after, facts.team).items():
            by_team.setdefault(team, {})[measure.value] = delta
        for team, increments in by_team.items():
            await self._database[self._names.counters].update_one(
                {"_id": _counter_id(shard, team)},
                {"$inc": increments, "$set": {"team": team, "shard": shard}},
                upsert=True,
                session=session,
            )

    async def _mark_changed(self, session: Session, ticket_id: str) -> None:
        await self._database[self._names.changes].update_one(
            {"_id": counter_shard(ticket_id)}, {"$inc": {"changes": 1}}, upsert=True, session=session
        )

    async def change_mark(self) -> int:
        """A number that grows whenever any replica changes the projection (cheap to poll)."""
        documents = await self._database[self._names.changes].find({}, {"changes": 1}).to_list()
        return sum(int(document.get("changes", 0)) for document in documents)

    async def counters(self) -> list[CounterValue]:
        documents = await self._database[self._names.counters].find({}).to_list()
        return [
            CounterValue(document.get("team"), measure, int(document.get(measure.value, 0)))
            for document in documents
            for measure in Measure
            if measure is not Measure.AT_RISK
        ]

    async def at_risk_tickets(self, *, now: datetime) -> dict[str, str | None]:
        """Open tickets (id -> team) with a running clock due after `now` and within the window."""
        start, end = at_risk_bounds(now)
        cursor = self._database[self._names.clocks].find(
            {"risk_due_at": {"$gt": start, "$lte": end}, "ticket_open": True},
            {"ticket_id": 1, "team": 1, "_id": 0},
        )
        return {document["ticket_id"]: document.get("team") async for document in cursor}

    async def bulk_load(
        self, *, tickets: list[tuple[str, TicketFacts]], clocks: list[ClockObservation]
    ) -> None:
        """Insert many entries and clocks into an empty generation at once, counters included.

        For seeding large queues (benchmarks, a rebuild from precomputed state); the consumers
        stay the writers of a live generation."""
        facts_by_ticket = dict(tickets)
        breached: dict[str, list[str]] = {}
        for clock in clocks:
            if clock.state is ClockState.BREACHED:
                breached.setdefault(clock.ticket_id, []).append(clock.clock_id)
        counters: dict[str, Document] = {}
        entries: list[Document] = []
        for ticket_id, facts in tickets:
            counted = counted_measures(facts, has_breached_clock=bool(breached.get(ticket_id)))
            entries.append({"_id": ticket_id, **_entry_fields(facts, breached.get(ticket_id, []), counted)})
            shard = counter_shard(ticket_id)
            counter = counters.setdefault(
                _counter_id(shard, facts.team), {"_id": _counter_id(shard, facts.team), "team": facts.team}
            )
            for measure in counted:
                counter[measure.value] = counter.get(measure.value, 0) + 1
        clock_documents = [
            {
                "_id": clock.clock_id,
                **_clock_fields(clock, facts_by_ticket.get(clock.ticket_id, TicketFacts())),
            }
            for clock in clocks
        ]
        for name, documents in (
            (self._names.tickets, entries),
            (self._names.clocks, clock_documents),
            (self._names.counters, list(counters.values())),
        ):
            if documents:
                await self._database[name].insert_many(documents, ordered=False)


def _entry_fields(facts: TicketFacts, breached_clocks: list[str], counted: frozenset[Measure]) -> Document:
    return {
        "version": facts.version,
        "open": facts.open,
        "waiting_on_customer": facts.waiting_on_customer,
        "unassigned": facts.unassigned,
        "team": facts.team,
        "breached_clocks": breached_clocks,
        "counted": sorted(measure.value for measure in counted),
        "counted_team": facts.team,
    }


def _clock_fields(observation: ClockObservation, facts: TicketFacts) -> Document:
    # The ticket's open flag and team ride along so "at risk" is one indexed range query.
    return {
        "ticket_id": observation.ticket_id,
        "target": observation.target,
        "state": observation.state.value,
        "due_at": observation.due_at,
        "risk_due_at": observation.risk_due_at,
        "occurred_at": observation.occurred_at,
        "rank": observation.rank,
        "event_id": observation.event_id,
        "ticket_open": facts.open,
        "team": facts.team,
    }


def _counter_id(shard: int, team: str | None) -> str:
    return f"{shard}:" if team is None else f"{shard}:team:{team}"


def _order_of(document: Mapping[str, Any]) -> tuple[datetime, int, str]:
    return (document["occurred_at"], int(document["rank"]), str(document["event_id"]))


def _facts_of(entry: Document | None) -> TicketFacts:
    """The ticket as the queue knows it; a ticket heard of only through sla is not open yet."""
    if entry is None:
        return TicketFacts()
    return TicketFacts(
        version=int(entry.get("version", 0)),
        open=bool(entry.get("open")),
        waiting_on_customer=bool(entry.get("waiting_on_customer")),
        unassigned=bool(entry.get("unassigned")),
        team=entry.get("team"),
    )
