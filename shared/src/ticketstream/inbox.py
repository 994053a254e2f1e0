"""Processed-event ledger: makes at-least-once delivery look exactly-once to a consumer's state.

A consumer claims `ce_id` in the same transaction as its state change; a redelivered event finds
its claim and is skipped. If the transaction aborts, the claim disappears with it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

from pymongo import IndexModel

from ticketstream.contracts import Envelope
from ticketstream.db import Database, IndexPlan, MongoClient, Session, run_in_transaction

T = TypeVar("T")

INBOX_COLLECTION = "inbox"

INBOX_INDEXES: IndexPlan = {INBOX_COLLECTION: [IndexModel([("processed_at", 1)])]}


async def claim_event(
    database: Database, session: Session, *, consumer: str, event_id: str, event_type: str
) -> bool:
    """Record that `consumer` handles `event_id`; False when it was handled before."""
    result = await database[INBOX_COLLECTION].update_one(
        {"_id": f"{consumer}:{event_id}"},
        {
            "$setOnInsert": {
                "consumer": consumer,
                "event_id": event_id,
                "event_type": event_type,
                "processed_at": datetime.now(UTC),
            }
        },
        upsert=True,
        session=session,
    )
    return result.upserted_id is not None


async def apply_once(
    client: MongoClient,
    database: Database,
    envelope: Envelope,
    *,
    consumer: str,
    work: Callable[[Session], Awaitable[T]],
) -> T | None:
    """Run `work` in one transaction with the claim of `envelope`; None if it was applied before.

    This is how every consumer changes state: a redelivered event finds its claim and does
    nothing, and a failed `work` takes its claim down with it, so the retry applies it.
    """

    async def claimed_work(session: Session) -> T | None:
        if not await claim_event(
            database, session, consumer=consumer, event_id=envelope.id, event_type=envelope.type
        ):
            return None
        return await work(session)

    return await run_in_transaction(client, claimed_work)
