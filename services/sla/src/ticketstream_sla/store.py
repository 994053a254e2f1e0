"""The sla database: policies and clocks, with inbox and outbox."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, IndexModel

from ticketstream.contracts import Envelope, encode_event
from ticketstream.contracts.events import SlaClockStarted, SlaTarget, TicketCreated
from ticketstream.contracts.models import Priority
from ticketstream.db import Database, Document, IndexPlan, MongoClient, Session
from ticketstream.inbox import apply_once
from ticketstream.outbox import enqueue
from ticketstream_sla import domain
from ticketstream_sla.clocks import ClockState

POLICIES = "policies"
CLOCKS = "clocks"
CONSUMER = "sla"

INDEXES: IndexPlan = {
    POLICIES: [IndexModel([("priority", ASCENDING)])],
    CLOCKS: [
        IndexModel([("ref", ASCENDING)]),
        IndexModel([("state", ASCENDING), ("due_at", ASCENDING)]),
    ],
}


def _policy_document(policy: domain.Policy) -> Document:
    return {
        "_id": policy.id,
        "name": policy.name,
        "priority": policy.priority.value,
        "first_response_seconds": int(policy.first_response.total_seconds()),
        "resolution_seconds": int(policy.resolution.total_seconds()) if policy.resolution else None,
    }


def _policy_of(document: Document) -> domain.Policy:
    resolution = document.get("resolution_seconds")
    return domain.Policy(
        id=document["_id"],
        name=document["name"],
        priority=Priority(document["priority"]),
        first_response=timedelta(seconds=document["first_response_seconds"]),
        resolution=timedelta(seconds=resolution) if resolution else None,
    )


def _clock_document(clock: domain.Clock) -> Document:
    return {
        "_id": clock.id,
        "ticket_id": clock.ticket_id,
        "ref": clock.ref,
        "target": clock.target.value,
        "policy_id": clock.policy_id,
        "priority": clock.priority.value,
        "started_at": clock.started_at,
        "target_seconds": clock.target_seconds,
        "due_at": clock.due_at,
        "state": clock.state.value,
    }


def _clock_of(document: Document) -> domain.Clock:
    return domain.Clock(
        ticket_id=document["ticket_id"],
        ref=document["ref"],
        target=SlaTarget(document["target"]),
        policy_id=document["policy_id"],
        priority=Priority(document["priority"]),
        started_at=document["started_at"],
        target_seconds=document["target_seconds"],
        state=ClockState(document["state"]),
    )


class SlaStore:
    def __init__(self, client: MongoClient, database: Database, *, on_commit: Callable[[], None]):
        self._client = client
        self._database = database
        self._on_commit = on_commit
        # Policies change rarely; clocks are started from this copy (loaded at start-up).
        self._policies: list[domain.Policy] = []

    async def seed_default_policies(self) -> None:
        """Insert the default policies that are missing (edited ones stay), then load them."""
        for policy in domain.DEFAULT_POLICIES:
            document = _policy_document(policy)
            await self._database[POLICIES].update_one(
                {"_id": document["_id"]}, {"$setOnInsert": document}, upsert=True
            )
        self._policies = await self.policies()

    async def policies(self) -> list[domain.Policy]:
        return [_policy_of(document) for document in await self._database[POLICIES].find().to_list()]

    async def start_clocks(self, envelope: Envelope, event: TicketCreated, *, now: datetime) -> bool:
        """Start the clocks of a new ticket and publish sla.clock_started; False if seen before."""

        async def work(session: Session) -> bool:
            policy = domain.policy_for(event.ticket.priority, self._policies)
            clocks = domain.clocks_for_new_ticket(
                ticket_id=event.ticket_id,
                ref=event.ref,
                priority=event.ticket.priority,
                policy=policy,
                created_at=event.ticket.created_at,
            )
            await self._database[CLOCKS].insert_many(
                [_clock_document(clock) for clock in clocks], session=session
            )
            await enqueue(
                self._database,
                session,
                *(
                    encode_event(
                        SlaClockStarted(
                            ticket_id=clock.ticket_id,
                            ref=clock.ref,
                            clock_id=clock.id,
                            target=clock.target,
                            policy_id=clock.policy_id,
                            priority=clock.priority,
                            due_at=clock.due_at,
                            occurred_at=now,
                            target_seconds=clock.target_seconds,
                        ),
                        service="sla",
                        key=clock.ticket_id,
                        subject=clock.ref,
                    )
                    for clock in clocks
                ),
            )
            return True

        started = bool(await apply_once(self._client, self._database, envelope, consumer=CONSUMER, work=work))
        if started:
            self._on_commit()
        return started

    async def clocks_of(self, ref_or_id: str) -> list[domain.Clock]:
        query: dict[str, Any] = {"$or": [{"ref": ref_or_id.upper()}, {"ticket_id": ref_or_id}]}
        documents = await self._database[CLOCKS].find(query).sort("target", ASCENDING).to_list()
        return [_clock_of(document) for document in documents]
