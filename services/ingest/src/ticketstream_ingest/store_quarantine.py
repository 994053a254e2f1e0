"""Quarantine: messages ingest would not let in, each kept whole with the reason it was held."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pymongo import DESCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from ticketstream.contracts.events import InboundChannel
from ticketstream.db import Database, Document, IndexPlan
from ticketstream_ingest.screening import Hold, HoldReason
from ticketstream_ingest.store import RAW_CHUNKS, read_raw, store_raw

QUARANTINE = "quarantine"

INDEXES: IndexPlan = {
    QUARANTINE: [
        IndexModel([("dedupe_key", 1)], unique=True, name="quarantine_dedupe_unique"),
        IndexModel([("state", 1), ("held_at", DESCENDING)], name="quarantine_state_held_at"),
    ],
}


class QuarantineState(StrEnum):
    HELD = "held"
    RELEASED = "released"
    DISCARDED = "discarded"


@dataclass(frozen=True)
class HeldMessage:
    id: str
    reason: HoldReason
    detail: str
    state: QuarantineState
    channel: InboundChannel
    sender: str | None
    subject: str | None
    message_id: str | None
    size: int
    held_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    released_as: str | None


@dataclass(frozen=True)
class HoldOutcome:
    entry_id: str
    already_held: bool


def _held_of(document: Document) -> HeldMessage:
    return HeldMessage(
        id=str(document["_id"]),
        reason=HoldReason(document["reason"]),
        detail=document["detail"],
        state=QuarantineState(document["state"]),
        channel=InboundChannel(document["channel"]),
        sender=document.get("sender"),
        subject=document.get("subject"),
        message_id=document.get("message_id"),
        size=int(document.get("size", 0)),
        held_at=document["held_at"],
        resolved_at=document.get("resolved_at"),
        resolved_by=document.get("resolved_by"),
        released_as=document.get("released_as"),
    )


class QuarantineStore:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def hold(
        self,
        *,
        hold: Hold,
        raw: bytes,
        dedupe_key: str,
        channel: InboundChannel,
        sender: str | None,
        subject: str | None,
        message_id: str | None,
        now: datetime,
    ) -> HoldOutcome:
        """Keep `raw` in quarantine; the same message held before is reported, not kept twice.

        The bytes are written before the entry, so an entry always has its message; a crash in
        between leaves only unreferenced chunks, never a held message without its bytes.
        """
        existing = await self._database[QUARANTINE].find_one({"dedupe_key": dedupe_key}, {"_id": 1})
        if existing is not None:
            return HoldOutcome(str(existing["_id"]), already_held=True)
        entry_id = f"q-{uuid.uuid4()}"
        await store_raw(self._database, None, entry_id, raw)
        try:
            await self._database[QUARANTINE].insert_one(
                {
                    "_id": entry_id,
                    "dedupe_key": dedupe_key,
                    "reason": hold.reason.value,
                    "detail": hold.detail,
                    "state": QuarantineState.HELD.value,
                    "channel": channel.value,
                    "sender": sender,
                    "subject": subject,
                    "message_id": message_id,
                    "size": len(raw),
                    "held_at": now,
                }
            )
        except DuplicateKeyError:
            await self._database[RAW_CHUNKS].delete_many({"inbound_id": entry_id})
            winner = await self._database[QUARANTINE].find_one({"dedupe_key": dedupe_key}, {"_id": 1})
            return HoldOutcome(str(winner["_id"]) if winner else "", already_held=True)
        return HoldOutcome(entry_id, already_held=False)

    async def list_held(
        self,
        *,
        state: QuarantineState | None,
        reason: HoldReason | None,
        limit: int,
        after: tuple[datetime, str] | None,
    ) -> list[HeldMessage]:
        """Newest first; `after` (held_at, id of the last entry seen) continues a page, so entries
        held in the same instant are neither skipped nor repeated."""
        query: Document = {}
        if state is not None:
            query["state"] = state.value
        if reason is not None:
            query["reason"] = reason.value
        if after is not None:
            held_at, entry_id = after
            query["$or"] = [{"held_at": {"$lt": held_at}}, {"held_at": held_at, "_id": {"$lt": entry_id}}]
        cursor = (
            self._database[QUARANTINE]
            .find(query)
            .sort([("held_at", DESCENDING), ("_id", DESCENDING)])
            .limit(limit)
        )
        return [_held_of(document) async for document in cursor]

    async def get(self, entry_id: str) -> HeldMessage | None:
        document = await self._database[QUARANTINE].find_one({"_id": entry_id})
        return _held_of(document) if document else None

    async def raw(self, entry_id: str) -> bytes | None:
        return await read_raw(self._database, entry_id)

    async def resolve(
        self,
        entry_id: str,
        *,
        state: QuarantineState,
        by: str,
        now: datetime,
        released_as: str | None = None,
    ) -> HeldMessage | None:
        """Mark a held entry released or discarded; None when it is not held (any more).

        Discarding also deletes the message's bytes: a discarded message is gone for good.
        """
        document = await self._database[QUARANTINE].find_one_and_update(
            {"_id": entry_id, "state": QuarantineState.HELD.value},
            {
                "$set": {
                    "state": state.value,
                    "resolved_at": now,
                    "resolved_by": by,
                    "released_as": released_as,
                }
            },
            return_document=True,
        )
        if document is None:
            return None
        if state is QuarantineState.DISCARDED:
            await self._database[RAW_CHUNKS].delete_many({"inbound_id": entry_id})
        return _held_of(document)
