"""The ingest database: raw messages (kept whole), their de-duplication keys, and the outbox."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pymongo import IndexModel
from pymongo.errors import DuplicateKeyError

from ticketstream.contracts import encode_event
from ticketstream.contracts.events import Event, InboundChannel
from ticketstream.db import Database, Document, IndexPlan, MongoClient, Session, run_in_transaction
from ticketstream.outbox import enqueue
from ticketstream_ingest.domain import ParsedEmail
from ticketstream_ingest.store_files import StoredFile, store_file

MESSAGES = "messages"
RAW_CHUNKS = "raw_chunks"
# BSON documents stop at 16 MB; raw messages may be larger, so their bytes are chunked.
RAW_CHUNK_BYTES = 4 * 1024 * 1024

INDEXES: IndexPlan = {
    MESSAGES: [IndexModel([("dedupe_key", 1)], unique=True, name="dedupe_key_unique")],
    RAW_CHUNKS: [IndexModel([("inbound_id", 1), ("n", 1)], unique=True)],
}


class AcceptStatus(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"


class MessageKind(StrEnum):
    MESSAGE = "message"
    BOUNCE = "bounce"
    DELIVERY_NOTICE = "delivery_notice"


@dataclass(frozen=True)
class AcceptResult:
    status: AcceptStatus
    inbound_id: str
    message_id: str


@dataclass(frozen=True)
class Received:
    """What ingest keeps of one accepted message, and the event that announces it."""

    inbound_id: str
    parsed: ParsedEmail
    raw: bytes
    channel: InboundChannel
    kind: MessageKind
    event: Event | None  # a delivery notice is kept, not published
    event_key: str
    received_at: datetime
    files: tuple[StoredFile, ...] = ()


async def store_raw(database: Database, session: Session | None, inbound_id: str, raw: bytes) -> None:
    """Keep a raw message's bytes in 4 MB chunks (BSON documents stop at 16 MB)."""
    chunks = [
        {"inbound_id": inbound_id, "n": n, "data": raw[offset : offset + RAW_CHUNK_BYTES]}
        for n, offset in enumerate(range(0, max(len(raw), 1), RAW_CHUNK_BYTES))
    ]
    await database[RAW_CHUNKS].insert_many(chunks, session=session)


async def read_raw(database: Database, owner_id: str) -> bytes | None:
    """The raw bytes kept under `owner_id` (an accepted message or a quarantine entry)."""
    chunks = await database[RAW_CHUNKS].find({"inbound_id": owner_id}).sort("n", 1).to_list()
    return b"".join(chunk["data"] for chunk in chunks) if chunks else None


class InboundStore:
    def __init__(self, client: MongoClient, database: Database, *, on_commit: Callable[[], None]):
        self._client = client
        self._database = database
        self._on_commit = on_commit

    async def accept(self, received: Received) -> AcceptResult:
        """Store the raw message and its event in one transaction.

        The same message arriving again (same Message-ID, or same bytes when it has none) is
        reported as a duplicate and publishes nothing.
        """
        parsed = received.parsed

        async def work(session: Session) -> None:
            await self._database[MESSAGES].insert_one(self._summary(received), session=session)
            await store_raw(self._database, session, received.inbound_id, received.raw)
            for file in received.files:
                await store_file(
                    self._database, session, owner_id=received.inbound_id, file=file, now=received.received_at
                )
            if received.event is not None:
                await enqueue(
                    self._database,
                    session,
                    encode_event(received.event, service="ingest", key=received.event_key),
                )

        try:
            await run_in_transaction(self._client, work)
        except DuplicateKeyError:
            existing = await self.find_duplicate(parsed.dedupe_key)
            return AcceptResult(AcceptStatus.DUPLICATE, existing or "", parsed.message_id)
        self._on_commit()
        return AcceptResult(AcceptStatus.ACCEPTED, received.inbound_id, parsed.message_id)

    @staticmethod
    def _summary(received: Received) -> Document:
        parsed = received.parsed
        return {
            "_id": received.inbound_id,
            "dedupe_key": parsed.dedupe_key,
            "kind": received.kind.value,
            "message_id": parsed.message_id,
            "sender": parsed.sender.email,
            "subject": parsed.subject,
            "channel": received.channel.value,
            "size": len(received.raw),
            "content_hash": parsed.content_hash,
            "auto_submitted_reason": parsed.auto_submitted_reason,
            "received_at": received.received_at,
        }

    async def find_duplicate(self, dedupe_key: str) -> str | None:
        """Id of the message accepted before with this de-duplication key, if any."""
        existing = await self._database[MESSAGES].find_one({"dedupe_key": dedupe_key}, {"_id": 1})
        return str(existing["_id"]) if existing else None

    async def raw_message(self, inbound_id: str) -> bytes | None:
        return await read_raw(self._database, inbound_id)
