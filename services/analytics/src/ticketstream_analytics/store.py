"""The analytics database: generations of projections, the ticket facts, and report queries.

Every projection collection is named `<projection>_<generation>`. The `analytics_meta` document
says which generation reports read (`active`) and which one a rebuild is filling (`building`);
live events go to both, which is harmless because applying a fact change is idempotent.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, IndexModel, ReturnDocument, UpdateOne

from ticketstream.db import Database, Document, IndexPlan, MongoClient
from ticketstream.inbox import INBOX_COLLECTION
from ticketstream_analytics.facts import FactChange
from ticketstream_analytics.reports import TicketFact

META = "analytics_meta"
META_ID = "projections"
TICKET_FACTS = "ticket_facts"
# The queue dashboard's projection (store_queue.py writes and reads it).
QUEUE_TICKETS = "queue_tickets"
QUEUE_CLOCKS = "queue_clocks"
QUEUE_COUNTERS = "queue_counters"
QUEUE_RISK = "queue_risk"
QUEUE_CHANGES = "queue_changes"
QUEUE_CONSUMER = "analytics-queue"
# The one list of projections a generation consists of (a rebuild creates and drops all of them).
PROJECTION_INDEXES: IndexPlan = {
    TICKET_FACTS: [
        IndexModel([("created_at", ASCENDING)]),
        IndexModel([("snap.resolved_at", ASCENDING)]),
        IndexModel([("changed_at", ASCENDING)]),
    ],
    QUEUE_TICKETS: [IndexModel([("risk_due_at", ASCENDING)])],
    QUEUE_CLOCKS: [IndexModel([("ticket_id", ASCENDING)])],
    QUEUE_COUNTERS: [],
    QUEUE_RISK: [IndexModel([("bucket", ASCENDING)])],
    QUEUE_CHANGES: [],
}
# Stamped on every fact write (the writer's clock), so read models can poll what changed.
CHANGED_AT = "changed_at"
LOAD_BATCH = 2_000
STAMPED_WRITE_SIZE = 100  # fact upserts per bulk write (about 0.5 s on the embedded database)
INDEXES: IndexPlan = {}
FIRST_GENERATION = "g0"

# The fact fields reports read, so a query never ships whole documents.
FACT_PROJECTION = {
    "snap": 1,
    "replies": 1,
    "notes": 1,
    "customer": 1,
    "escalations": 1,
    "reopenings": 1,
    "breaches": 1,
    "met": 1,
    "targets": 1,
}


def collection_name(projection: str, generation: str) -> str:
    return f"{projection}_{generation}"


def queue_consumer(generation: str) -> str:
    """The inbox consumer name of a generation's queue projection (claims are per generation)."""
    return f"{QUEUE_CONSUMER}-{generation}"


def fact_update(change: FactChange) -> dict[str, Any]:
    """The update operators of one change; each is idempotent and commutes with the others."""
    set_fields: dict[str, Any] = {}
    maximum: dict[str, Any] = {}
    minimum: dict[str, Any] = {}
    if change.snapshot is not None:
        # Documents compare field by field and "v" comes first: $max keeps the highest version.
        maximum["snap"] = change.snapshot
        set_fields["created_at"] = change.snapshot["created_at"]
    for prefix, entries in (
        ("replies", change.public_replies),
        ("notes", change.internal_notes),
        ("customer", change.customer_messages),
        ("escalations", change.escalations),
        ("reopenings", change.reopenings),
    ):
        set_fields.update({f"{prefix}.{key}": value for key, value in entries.items()})
    minimum.update({f"breaches.{target}": at for target, at in change.breaches.items()})
    minimum.update({f"met.{target}": at for target, at in change.met.items()})
    maximum.update(
        {f"targets.{target}": {"at": at, "seconds": s} for target, (at, s) in change.targets.items()}
    )
    operators = {"$set": set_fields, "$max": maximum, "$min": minimum}
    return {name: fields for name, fields in operators.items() if fields}


def fact_from_document(document: Document) -> TicketFact | None:
    snap = document.get("snap")
    if snap is None:
        return None  # only SLA events so far: the ticket itself has not been seen yet
    return TicketFact(
        ticket_id=str(document["_id"]),
        ref=snap["ref"],
        created_at=snap["created_at"],
        first_response_at=snap.get("first_response_at"),
        resolved_at=snap.get("resolved_at"),
        closed_at=snap.get("closed_at"),
        status=snap["status"],
        priority=snap["priority"],
        team=snap.get("team"),
        assignees=tuple(snap.get("assignees") or ()),
        category=snap.get("category"),
        tags=tuple(snap.get("tags") or ()),
        tier=snap.get("tier"),
        source=snap["source"],
        csat_score=snap.get("csat_score"),
        csat_comment=snap.get("csat_comment"),
        targets={t: int(v["seconds"]) for t, v in (document.get("targets") or {}).items()},
        breached=frozenset(document.get("breaches") or ()),
        met=frozenset(document.get("met") or ()),
        public_replies=tuple((document.get("replies") or {}).values()),
        internal_notes=tuple((document.get("notes") or {}).values()),
        customer_messages=len(document.get("customer") or {}),
        escalations=tuple((document.get("escalations") or {}).values()),
        reopenings=len(document.get("reopenings") or {}),
    )


def _stamped(update: dict[str, Any], stamp: dict[str, datetime]) -> dict[str, Any]:
    return {**update, "$set": {**update.get("$set", {}), **stamp}}


class AnalyticsStore:
    def __init__(self, client: MongoClient, database: Database) -> None:
        self._client = client
        self._database = database

    async def _meta(self) -> Document:
        """The generations document; creates the first generation on a fresh database."""
        meta = await self._database[META].find_one({"_id": META_ID})
        if meta is None:
            await self._create_indexes(FIRST_GENERATION)
            meta = await self._database[META].find_one_and_update(
                {"_id": META_ID},
                {"$setOnInsert": {"active": FIRST_GENERATION, "building": None, "queue_building": None}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
            assert meta is not None
        return meta

    async def generations(self) -> tuple[str, str | None]:
        """(active, building): reports read the first, live fact changes go to both."""
        meta = await self._meta()
        return str(meta["active"]), meta.get("building")

    async def _create_indexes(self, generation: str) -> None:
        for projection, indexes in PROJECTION_INDEXES.items():
            if indexes:
                await self._database[collection_name(projection, generation)].create_indexes(list(indexes))

    async def apply(self, changes: Sequence[FactChange], *, generations: Sequence[str]) -> None:
        """Write fact changes into each named generation (unordered bulk writes, no transaction:
        every update is idempotent and touches one document)."""
        for generation in dict.fromkeys(generations):
            facts = self._database[collection_name(TICKET_FACTS, generation)]
            # A fresh stamp per small write: read models re-read an overlap window before their
            # last poll, and a stamp taken before a long bulk write could fall out of it by the
            # time the write's last documents become visible.
            for first in range(0, len(changes), STAMPED_WRITE_SIZE):
                stamp = {CHANGED_AT: datetime.now(UTC)}
                operations = [
                    UpdateOne({"_id": c.ticket_id}, _stamped(fact_update(c), stamp), upsert=True)
                    for c in changes[first : first + STAMPED_WRITE_SIZE]
                ]
                await facts.bulk_write(operations, ordered=False)

    async def apply_live(self, changes: Sequence[FactChange]) -> None:
        """Live events: the active generation and, during a rebuild, the one being built."""
        active, building = await self.generations()
        await self.apply(changes, generations=[active, *([building] if building else [])])

    async def queue_generations(self) -> list[str]:
        """The generations live queue events go to: the active one and, once a rebuild has loaded
        its queue, the one being built (before that, the rebuild reads those events itself)."""
        meta = await self._meta()
        return [str(meta["active"]), *([str(meta["queue_building"])] if meta.get("queue_building") else [])]

    async def begin_generation(self) -> str:
        """Mark a new generation as building; reports keep reading the active one."""
        await self.generations()
        generation = f"g{uuid.uuid4().hex[:10]}"
        await self._create_indexes(generation)
        previous = await self._database[META].find_one_and_update(
            {"_id": META_ID}, {"$set": {"building": generation, "queue_building": None}}
        )
        assert previous is not None
        # An abandoned rebuild's, or one a crash left behind between a switch and its drop.
        await self._drop_generations_but({str(previous["active"]), generation})
        return generation

    async def open_queue(self, generation: str) -> None:
        """From now on live queue events are applied to `generation` too."""
        opened = await self._database[META].update_one(
            {"_id": META_ID, "building": generation}, {"$set": {"queue_building": generation}}
        )
        if opened.matched_count != 1:
            raise RuntimeError(f"generation {generation} is no longer the one being built")

    async def switch_to(self, generation: str, *, grace_seconds: float = 0.0) -> str:
        """Make `generation` active in one update, then drop the generation it replaces once
        `grace_seconds` have passed (a dashboard read or a live write that looked up the
        generations just before the switch finishes with the old one meanwhile)."""
        previous = await self._database[META].find_one_and_update(
            {"_id": META_ID, "building": generation, "queue_building": generation},
            {"$set": {"active": generation, "building": None, "queue_building": None}},
        )
        if previous is None:
            raise RuntimeError(f"generation {generation} is no longer the one being built")
        await asyncio.sleep(grace_seconds)
        await self._drop_generation(str(previous["active"]))
        return str(previous["active"])

    async def _drop_generation(self, generation: str) -> None:
        for projection in PROJECTION_INDEXES:
            await self._database[collection_name(projection, generation)].drop()
        await self._forget_queue_claims(generation)

    async def _drop_generations_but(self, keep: set[str]) -> None:
        dropped: set[str] = set()
        for name in await self._database.list_collection_names():
            projection, _, generation = name.rpartition("_")
            if projection in PROJECTION_INDEXES and generation not in keep:
                await self._database[name].drop()
                dropped.add(generation)
        for generation in dropped:
            await self._forget_queue_claims(generation)

    async def _forget_queue_claims(self, generation: str) -> None:
        """The inbox claims of a dropped generation's queue (an _id range: `<consumer>:<event>`)."""
        consumer = queue_consumer(generation)
        # ";" sorts right after ":", so the range holds exactly the ids starting "<consumer>:".
        await self._database[INBOX_COLLECTION].delete_many(
            {"_id": {"$gte": f"{consumer}:", "$lt": f"{consumer};"}}
        )

    async def facts(
        self,
        *,
        created_from: datetime | None,
        created_before: datetime,
        open_at: datetime | None = None,
        filters: dict[str, str],
    ) -> list[TicketFact]:
        """Facts of tickets created in [created_from, created_before) matching `filters`
        (snapshot field -> value; "assignees" matches one of the ticket's agents). With `open_at`,
        only tickets not resolved before that moment."""
        active, _ = await self.generations()
        created: dict[str, Any] = {"$lt": created_before}
        if created_from is not None:
            created["$gte"] = created_from
        query: dict[str, Any] = {"created_at": created}
        query.update({f"snap.{name}": value for name, value in filters.items()})
        if open_at is not None:
            query["$or"] = [{"snap.resolved_at": None}, {"snap.resolved_at": {"$gte": open_at}}]
        documents = (
            await self._database[collection_name(TICKET_FACTS, active)].find(query, FACT_PROJECTION).to_list()
        )
        return [fact for document in documents if (fact := fact_from_document(document)) is not None]

    async def ensure_generation_indexes(self, generation: str) -> None:
        """Create the projection indexes of `generation` if missing (older generations predate
        the change stamp's index)."""
        await self._create_indexes(generation)

    async def fact_batches(
        self, generation: str, *, changed_since: datetime | None = None
    ) -> AsyncIterator[list[TicketFact]]:
        """Every fact of `generation` (or those written at or after `changed_since`), in batches;
        documents without a ticket snapshot yet are left out, as reports leave them out."""
        query = {} if changed_since is None else {CHANGED_AT: {"$gte": changed_since}}
        cursor = self._database[collection_name(TICKET_FACTS, generation)].find(
            query, FACT_PROJECTION, batch_size=LOAD_BATCH
        )
        batch: list[TicketFact] = []
        async for document in cursor:
            if (fact := fact_from_document(document)) is not None:
                batch.append(fact)
            if len(batch) >= LOAD_BATCH:
                yield batch
                batch = []
        if batch:
            yield batch
