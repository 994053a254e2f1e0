"""Processed-event ledger: makes at-least-once delivery look exactly-once to a consumer's state.

A consumer claims `ce_id` in the same transaction as its state change; a redelivered event finds
its claim and is skipped. If the transaction aborts, the claim disappears with it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pymongo import IndexModel

from ticketstream.db import Database, IndexPlan, Session

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
