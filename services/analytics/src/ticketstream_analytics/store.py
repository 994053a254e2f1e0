"""The analytics database: one fact per ticket and per-day counters, maintained from events."""

from __future__ import annotations

from datetime import date

from pymongo import ASCENDING, IndexModel

from ticketstream.contracts import Envelope
from ticketstream.contracts.events import TicketCreated
from ticketstream.db import Database, IndexPlan, MongoClient, Session
from ticketstream.inbox import apply_once

TICKET_FACTS = "ticket_facts"
DAILY_VOLUME = "daily_volume"
CONSUMER = "analytics"

INDEXES: IndexPlan = {
    TICKET_FACTS: [IndexModel([("created_day", ASCENDING)])],
    DAILY_VOLUME: [IndexModel([("day", ASCENDING)])],
}


class AnalyticsStore:
    def __init__(self, client: MongoClient, database: Database) -> None:
        self._client = client
        self._database = database

    async def record_ticket_created(self, envelope: Envelope, event: TicketCreated) -> bool:
        """Count a new ticket in its UTC day, once per event and once per ticket."""
        ticket = event.ticket
        day = ticket.created_at.date().isoformat()

        async def work(session: Session) -> bool:
            fact = await self._database[TICKET_FACTS].update_one(
                {"_id": ticket.id},
                {
                    "$setOnInsert": {
                        "ref": ticket.ref,
                        "created_at": ticket.created_at,
                        "created_day": day,
                        "source": ticket.source.value,
                        "priority": ticket.priority.value,
                    }
                },
                upsert=True,
                session=session,
            )
            if fact.upserted_id is None:
                return False  # the same ticket announced twice under different event ids
            await self._database[DAILY_VOLUME].update_one(
                {"_id": day},
                {"$inc": {"created": 1, f"by_source.{ticket.source.value}": 1}, "$set": {"day": day}},
                upsert=True,
                session=session,
            )
            return True

        return bool(await apply_once(self._client, self._database, envelope, consumer=CONSUMER, work=work))

    async def daily_created(self, *, start: date, end: date) -> list[tuple[date, int, dict[str, int]]]:
        documents = (
            await self._database[DAILY_VOLUME]
            .find({"day": {"$gte": start.isoformat(), "$lte": end.isoformat()}})
            .sort("day", ASCENDING)
            .to_list()
        )
        return [
            (date.fromisoformat(d["day"]), int(d.get("created", 0)), dict(d.get("by_source", {})))
            for d in documents
        ]
