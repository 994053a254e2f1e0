"""The queue projection: one entry per ticket, one state per SLA clock, and sharded counters.

Written by the analytics consumers from tickets.v1 and sla.v1, read by the dashboard. Scanning
100k entries per request is far too slow on the embedded database (it reads documents in Python),
so every number is read from counters moved by deltas in the same transaction as the entry:
status counts per team, and for "at risk" (which depends on the time of the request) counts per
five-minute slice of due times, plus an indexed range query for the two partial slices.

Every collection name ends with `generation`, so a rebuild can fill fresh collections and switch
over; the inbox consumer name carries it too, so a rebuild does not see the live claims.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import UpdateOne
from pymongo.errors import BulkWriteError

from ticketstream.contracts import Envelope
from ticketstream.db import Database, Document, MongoClient, Session
from ticketstream.inbox import apply_once
from ticketstream_analytics.dashboard import (
    ClockObservation,
    ClockState,
    Measure,
    TicketChange,
    TicketFacts,
    at_risk_plan,
    counted_measures,
    counter_deltas,
    counter_shard,
    is_newer,
    next_due_at,
    queue_change,
    risk_bucket,
    risk_shard,
)
from ticketstream_analytics.store import (
    FIRST_GENERATION,
    QUEUE_CHANGES,
    QUEUE_CLOCKS,
    QUEUE_COUNTERS,
    QUEUE_RISK,
    QUEUE_TICKETS,
    AnalyticsStore,
    collection_name,
    queue_consumer,
)

NO_TEAM_KEY = "-"
DUPLICATE_KEY = 11000


@dataclass(frozen=True)
class QueueCollections:
    """The collection names of one generation of the projection."""

    generation: str = FIRST_GENERATION

    @property
    def tickets(self) -> str:
        return collection_name(QUEUE_TICKETS, self.generation)

    @property
    def clocks(self) -> str:
        return collection_name(QUEUE_CLOCKS, self.generation)

    @property
    def counters(self) -> str:
        return collection_name(QUEUE_COUNTERS, self.generation)

    @property
    def risk(self) -> str:
        return collection_name(QUEUE_RISK, self.generation)

    @property
    def changes(self) -> str:
        return collection_name(QUEUE_CHANGES, self.generation)

    @property
    def consumer(self) -> str:
        return queue_consumer(self.generation)


@dataclass(frozen=True)
class CounterValue:
    team: str | None
    measure: Measure
    count: int


@dataclass(frozen=True)
class _Contribution:
    """What one entry adds to the counters: its measures in its team, and its at-risk slice."""

    team: str | None
    measures: frozenset[Measure]
    risk_bucket: datetime | None


class QueueStore:
    def __init__(
        self, client: MongoClient, database: Database, *, generation: str = FIRST_GENERATION
    ) -> None:
        self._client = client
        self._database = database
        self._names = QueueCollections(generation)

    @property
    def generation(self) -> str:
        return self._names.generation

    async def apply(self, envelope: Envelope) -> bool:
        """Fold one tickets.v1 or sla.v1 event into the queue, once per event id; True if it changed it.

        Other events are ignored. Beyond the event id, the ticket's highest version and each
        clock's latest observation win, so copies under new ids and reordering converge too.
        """
        change = queue_change(envelope)
        if change is None:
            return False
        if isinstance(change, TicketChange):
            ticket = change

            async def work(session: Session) -> bool:
                return await self._apply_ticket(session, ticket.ticket_id, ticket.facts)

        else:
            clock = change

            async def work(session: Session) -> bool:
                return await self._apply_clock(session, clock)

        changed = await apply_once(
            self._client, self._database, envelope, consumer=self._names.consumer, work=work
        )
        return bool(changed)

    async def _apply_ticket(self, session: Session, ticket_id: str, facts: TicketFacts) -> bool:
        entry = await self._database[self._names.tickets].find_one({"_id": ticket_id}, session=session)
        if entry is not None and int(entry.get("version", 0)) >= facts.version:
            return False  # an older or repeated version of what we already hold
        breached = list(entry.get("breached_clocks", [])) if entry else []
        due = entry.get("next_due_at") if entry else None
        await self._save_entry(session, ticket_id, entry, facts, breached, due)
        return True

    async def _apply_clock(self, session: Session, observation: ClockObservation) -> bool:
        clocks = self._database[self._names.clocks]
        current = await clocks.find_one({"_id": observation.clock_id}, session=session)
        if current is not None and not is_newer(observation, _order_of(current)):
            return False
        ticket_id = observation.ticket_id
        await clocks.update_one(
            {"_id": observation.clock_id}, {"$set": _clock_fields(observation)}, upsert=True, session=session
        )
        running = await clocks.find(
            {"ticket_id": ticket_id, "state": ClockState.RUNNING.value}, {"due_at": 1}, session=session
        ).to_list()
        entry = await self._database[self._names.tickets].find_one({"_id": ticket_id}, session=session)
        breached = set(entry.get("breached_clocks", [])) if entry else set()
        if observation.state is ClockState.BREACHED:
            breached.add(observation.clock_id)
        else:
            breached.discard(observation.clock_id)
        due = next_due_at(document.get("due_at") for document in running)
        await self._save_entry(session, ticket_id, entry, _facts_of(entry), sorted(breached), due)
        return True

    async def _save_entry(
        self,
        session: Session,
        ticket_id: str,
        entry: Document | None,
        facts: TicketFacts,
        breached_clocks: list[str],
        due: datetime | None,
    ) -> None:
        """Store the entry and move the counters from what it counted before to what it counts now."""
        before = _contribution_of(entry)
        after = _contribution(facts, breached_clocks, due)
        await self._database[self._names.tickets].update_one(
            {"_id": ticket_id},
            {"$set": _entry_fields(facts, breached_clocks, due, after)},
            upsert=True,
            session=session,
        )
        shard = counter_shard(ticket_id)
        by_team: dict[str | None, dict[str, int]] = {}
        for (team, measure), delta in counter_deltas(
            before.measures, before.team, after.measures, after.team
        ).items():
            by_team.setdefault(team, {})[measure.value] = delta
        for team, increments in by_team.items():
            await self._database[self._names.counters].update_one(
                {"_id": _counter_id(shard, team)},
                {"$inc": increments, "$set": {"team": team, "shard": shard}},
                upsert=True,
                session=session,
            )
        if (before.risk_bucket, before.team) != (after.risk_bucket, after.team):
            for contribution, delta in ((before, -1), (after, 1)):
                if contribution.risk_bucket is not None:
                    await self._move_risk(session, ticket_id, contribution, delta)
        await self._database[self._names.changes].update_one(
            {"_id": shard}, {"$inc": {"changes": 1}}, upsert=True, session=session
        )

    async def _move_risk(
        self, session: Session, ticket_id: str, contribution: _Contribution, delta: int
    ) -> None:
        assert contribution.risk_bucket is not None
        shard = risk_shard(ticket_id)
        await self._database[self._names.risk].update_one(
            {"_id": _risk_id(contribution.risk_bucket, shard)},
            {
                "$inc": {f"counts.{_team_key(contribution.team)}": delta},
                "$set": {"bucket": contribution.risk_bucket},
            },
            upsert=True,
            session=session,
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

    async def at_risk_counts(self, *, now: datetime) -> list[tuple[str | None, int]]:
        """(team, count) pieces that sum to the open tickets whose next due time is in the window."""
        plan = at_risk_plan(now)
        pieces: list[tuple[str | None, int]] = []
        slices = self._database[self._names.risk].find(
            {"bucket": {"$gte": plan.full_from, "$lt": plan.full_until}}, {"counts": 1}
        )
        async for document in slices:
            pieces.extend((_team_of(key), int(count)) for key, count in document.get("counts", {}).items())
        for after, up_to in plan.edges:
            edge = self._database[self._names.tickets].find(
                {"risk_due_at": {"$gt": after, "$lte": up_to}}, {"team": 1, "_id": 0}
            )
            pieces.extend([(document.get("team"), 1) async for document in edge])
        return pieces

    async def bulk_load(
        self, *, tickets: list[tuple[str, TicketFacts]], clocks: list[ClockObservation], batch: int = 2_000
    ) -> None:
        """Insert entries and clocks of tickets this generation does not hold yet, counters included.

        For seeding large queues (benchmarks, a rebuild from precomputed state): documents go in
        with insert_many, and each counter document gets one summed increment per call, so load
        everything in one call. The consumers stay the writers of a live generation."""
        breached: dict[str, list[str]] = {}
        running: dict[str, list[datetime | None]] = {}
        for clock in clocks:
            if clock.state is ClockState.BREACHED:
                breached.setdefault(clock.ticket_id, []).append(clock.clock_id)
            running.setdefault(clock.ticket_id, []).append(clock.running_due_at)
        counters: dict[str, Document] = {}
        risk: dict[str, Document] = {}
        entries: list[Document] = []
        for ticket_id, facts in tickets:
            due = next_due_at(running.get(ticket_id, []))
            counted = _contribution(facts, breached.get(ticket_id, []), due)
            entries.append(
                {"_id": ticket_id, **_entry_fields(facts, breached.get(ticket_id, []), due, counted)}
            )
            shard = counter_shard(ticket_id)
            counter = counters.setdefault(
                _counter_id(shard, facts.team), {"$inc": {}, "$set": {"team": facts.team, "shard": shard}}
            )
            for measure in counted.measures:
                counter["$inc"][measure.value] = counter["$inc"].get(measure.value, 0) + 1
            if counted.risk_bucket is not None:
                key = _risk_id(counted.risk_bucket, risk_shard(ticket_id))
                slice_ = risk.setdefault(key, {"$inc": {}, "$set": {"bucket": counted.risk_bucket}})
                field = f"counts.{_team_key(facts.team)}"
                slice_["$inc"][field] = slice_["$inc"].get(field, 0) + 1
        clock_documents = [{"_id": clock.clock_id, **_clock_fields(clock)} for clock in clocks]
        for name, documents in ((self._names.tickets, entries), (self._names.clocks, clock_documents)):
            for first in range(0, len(documents), batch):
                await _insert_absent(self._database, name, documents[first : first + batch])
        for name, updates in ((self._names.counters, counters), (self._names.risk, risk)):
            operations = [
                UpdateOne({"_id": key}, update, upsert=True)
                for key, update in updates.items()
                if update["$inc"]
            ]
            if operations:
                await self._database[name].bulk_write(operations, ordered=False)


class QueueProjections:
    """The queue projection across generations: reads go to the active one; live events go to
    it and, while a rebuild is catching up, to the one being built."""

    def __init__(self, client: MongoClient, database: Database, generations: AnalyticsStore) -> None:
        self._client = client
        self._database = database
        self._generations = generations

    def of(self, generation: str) -> QueueStore:
        return QueueStore(self._client, self._database, generation=generation)

    async def active(self) -> QueueStore:
        active, _ = await self._generations.generations()
        return self.of(active)

    async def apply_live(self, envelope: Envelope) -> None:
        for generation in await self._generations.queue_generations():
            await self.of(generation).apply(envelope)


async def _insert_absent(database: Database, name: str, documents: list[Document]) -> None:
    """insert_many that accepts documents already there: a driver retry after a lost reply
    re-sends the same batch, and those copies are identical to what was stored."""
    try:
        await database[name].insert_many(documents, ordered=False)
    except BulkWriteError as error:
        if any(failure.get("code") != DUPLICATE_KEY for failure in error.details.get("writeErrors", [])):
            raise


def _contribution(facts: TicketFacts, breached_clocks: list[str], due: datetime | None) -> _Contribution:
    measures = counted_measures(facts, has_breached_clock=bool(breached_clocks))
    return _Contribution(
        team=facts.team,
        measures=measures,
        risk_bucket=risk_bucket(due) if due is not None and facts.open else None,
    )


def _contribution_of(entry: Document | None) -> _Contribution:
    if entry is None:
        return _Contribution(team=None, measures=frozenset(), risk_bucket=None)
    return _Contribution(
        team=entry.get("counted_team"),
        measures=frozenset(Measure(name) for name in entry.get("counted", [])),
        risk_bucket=entry.get("risk_bucket"),
    )


def _entry_fields(
    facts: TicketFacts, breached_clocks: list[str], due: datetime | None, counted: _Contribution
) -> Document:
    return {
        "version": facts.version,
        "open": facts.open,
        "waiting_on_customer": facts.waiting_on_customer,
        "unassigned": facts.unassigned,
        "team": facts.team,
        "breached_clocks": breached_clocks,
        "next_due_at": due,
        # Only an open ticket can be at risk: the indexed field is empty otherwise.
        "risk_due_at": due if counted.risk_bucket is not None else None,
        "counted": sorted(measure.value for measure in counted.measures),
        "counted_team": counted.team,
        "risk_bucket": counted.risk_bucket,
    }


def _clock_fields(observation: ClockObservation) -> Document:
    return {
        "ticket_id": observation.ticket_id,
        "target": observation.target,
        "state": observation.state.value,
        "due_at": observation.running_due_at,
        "occurred_at": observation.occurred_at,
        "rank": observation.rank,
        "event_id": observation.event_id,
    }


def _counter_id(shard: int, team: str | None) -> str:
    return f"{shard}:" if team is None else f"{shard}:team:{team}"


def _risk_id(bucket: datetime, shard: int) -> str:
    return f"{bucket.isoformat()}|{shard}"


def _team_key(team: str | None) -> str:
    """A field name for a team: hex, because team ids may hold dots or dollars."""
    return NO_TEAM_KEY if team is None else "t" + team.encode().hex()


def _team_of(key: str) -> str | None:
    return None if key == NO_TEAM_KEY else bytes.fromhex(key[1:]).decode()


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
