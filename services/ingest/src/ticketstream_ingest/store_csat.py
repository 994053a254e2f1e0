"""Satisfaction answers in ingest's database: one per survey token, and their outbox events.

A customer may answer again through the same link: the stored answer is replaced and the new one
published (tickets keeps the latest). Sending the very same answer twice publishes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum

from pymongo import IndexModel
from pymongo.errors import DuplicateKeyError

from ticketstream.contracts import encode_event
from ticketstream.contracts.events import InboundCsatSubmitted
from ticketstream.contracts.models import Csat
from ticketstream.db import Database, IndexPlan, MongoClient, Session, run_in_transaction
from ticketstream.outbox import enqueue

CSAT_SUBMISSIONS = "csat_submissions"

INDEXES: IndexPlan = {CSAT_SUBMISSIONS: [IndexModel([("ticket_id", 1)], name="by_ticket")]}


class CsatOutcome(StrEnum):
    RECORDED = "recorded"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


class CsatStore:
    def __init__(self, client: MongoClient, database: Database, *, on_commit: Callable[[], None]):
        self._client = client
        self._database = database
        self._on_commit = on_commit

    async def answer(self, token_id: str) -> Csat | None:
        """The answer last given through a survey token, if any."""
        document = await self._database[CSAT_SUBMISSIONS].find_one({"_id": token_id})
        return _csat_of(document) if document else None

    async def submit(
        self, *, token_id: str, ticket_id: str, ref: str, csat: Csat, now: datetime
    ) -> CsatOutcome:
        """Store the answer given through `token_id` and publish it, unless it is unchanged."""
        event = InboundCsatSubmitted(ticket_id=ticket_id, ref=ref, csat=csat, submitted_at=now)

        async def work(session: Session) -> CsatOutcome:
            submissions = self._database[CSAT_SUBMISSIONS]
            existing = await submissions.find_one({"_id": token_id}, session=session)
            if existing is not None and _csat_of(existing) == csat:
                return CsatOutcome.UNCHANGED
            await submissions.update_one(
                {"_id": token_id},
                {
                    "$set": {"score": csat.score, "comment": csat.comment, "updated_at": now},
                    "$setOnInsert": {"ticket_id": ticket_id, "ref": ref, "submitted_at": now},
                    "$inc": {"answers": 1},
                },
                upsert=True,
                session=session,
            )
            await enqueue(
                self._database,
                session,
                encode_event(event, service="ingest", key=ticket_id, subject=ref, time=now),
            )
            return CsatOutcome.RECORDED if existing is None else CsatOutcome.UPDATED

        try:
            outcome = await run_in_transaction(self._client, work)
        except DuplicateKeyError:
            # The same link answered twice at the same instant: the second sees the first now.
            outcome = await run_in_transaction(self._client, work)
        if outcome is not CsatOutcome.UNCHANGED:
            self._on_commit()
        return outcome


def _csat_of(document: dict[str, object]) -> Csat:
    return Csat.model_validate({"score": document["score"], "comment": document.get("comment")})
