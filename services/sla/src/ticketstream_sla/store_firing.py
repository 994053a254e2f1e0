"""One transaction's worth of fired timers: what they change in the sla database (clocks,
waiting states, next timers) and the events to publish, collected first and written in a few
bulk writes."""

from __future__ import annotations

from typing import Any

from pymongo import DeleteOne, ReplaceOne, UpdateOne

from ticketstream.contracts.events import SlaEvent, SlaWaitingEvent
from ticketstream.db import Database, Document, Session
from ticketstream_sla import domain, waiting
from ticketstream_sla.documents import clock_document, clock_of, timer_document, waiting_document, waiting_of
from ticketstream_sla.timers import Timer, clock_timer, shard_of

CLOCKS = "clocks"
TICKETS = "tickets"
TIMERS = "timers"


def stored_facts(document: Document) -> dict[str, Any]:
    """The ticket facts a stored clock keeps for the queue views."""
    return {"team": document.get("team"), "assignee_ids": document.get("assignee_ids", [])}


class FiringBatch:
    """What one transaction of due timers changes: stored clocks, waiting states and timers,
    and the events to publish. Collected first, written in a few bulk writes."""

    def __init__(self, shards: int) -> None:
        self._shards = shards
        self.clear()

    def clear(self) -> None:
        self.fired: list[Timer] = []
        self.events: list[SlaEvent | SlaWaitingEvent] = []
        self.next_timers: list[Timer] = []
        self._clocks: list[ReplaceOne[Document]] = []
        self._tickets: list[UpdateOne] = []
        self._timers: list[ReplaceOne[Document] | DeleteOne] = []

    def fire_clock(self, timer: Timer, document: Document | None) -> None:
        reaction = (
            domain.on_timer(clock_of(document), timer.kind, generation=timer.generation, now=timer.at)
            if document is not None
            else domain.Reaction()
        )
        if document is None or not reaction.clocks:
            self._drop(timer)
            return
        clock = reaction.clocks[-1]
        self._clocks.append(ReplaceOne({"_id": clock.id}, clock_document(clock, **stored_facts(document))))
        self._set(timer.id, clock_timer(clock))
        self.events.extend(reaction.events)
        self.fired.append(timer)

    def fire_waiting(self, timer: Timer, ticket: Document | None) -> None:
        current = waiting_of(ticket) if ticket is not None else None
        fired = (
            waiting.on_timer(current, timer.kind, generation=timer.generation, now=timer.at)
            if current is not None
            else None
        )
        if fired is None:
            self._drop(timer)
            return
        state, event = fired
        self._tickets.append(
            UpdateOne({"_id": timer.ticket_id}, {"$set": {"waiting": waiting_document(state)}})
        )
        self._set(timer.id, state.timer())
        self.events.append(event)
        self.fired.append(timer)

    def _drop(self, timer: Timer) -> None:
        """A timer whose subject no longer needs it (e.g. left by a crash between writes)."""
        self._timers.append(DeleteOne({"_id": timer.id}))

    def _set(self, current_id: str, following: Timer | None) -> None:
        if following is None:
            self._timers.append(DeleteOne({"_id": current_id}))
            return
        document = timer_document(following, shard=shard_of(following.ticket_id, self._shards))
        self._timers.append(ReplaceOne({"_id": following.id}, document, upsert=True))
        self.next_timers.append(following)

    async def write(self, database: Database, session: Session) -> None:
        for collection, operations in (
            (CLOCKS, self._clocks),
            (TICKETS, self._tickets),
            (TIMERS, self._timers),
        ):
            if operations:
                await database[collection].bulk_write(operations, session=session)
