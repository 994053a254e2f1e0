"""The ingest database: raw messages (kept whole), their de-duplication keys, and the outbox."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pymongo import IndexModel
from pymongo.errors import DuplicateKeyError

from ticketstream.contracts import encode_event
from ticketstream.contracts.events import InboundChannel, InboundMessageReceived
from ticketstream.db import Database, IndexPlan, MongoClient, Session, run_in_transaction
from ticketstream.outbox import enqueue
from ticketstream_ingest.domain import ParsedEmail

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


@dataclass(frozen=True)
class AcceptResult:
    status: AcceptStatus
    inbound_id: str
    message_id: str


class InboundStore:
    def __init__(self, client: MongoClient, database: Database, *, on_commit: Callable[[], None]):
        self._client = client
        self._database = database
        self._on_commit = on_commit

    async def accept_email(
        self, *, parsed: ParsedEmail, raw: bytes, channel: InboundChannel, now: datetime
    ) -> AcceptResult:
        """Store the raw message and its `inbound.message.received` event in one transaction.

        The same message arriving again (same Message-ID, or same bytes when it has none) is
        reported as a duplicate and publishes nothing.
        """
        inbound_id = str(uuid.uuid4())
        event = InboundMessageReceived(
            inbound_id=inbound_id,
            channel=channel,
            message_id=parsed.message_id,
            in_reply_to=parsed.in_reply_to,
            references=parsed.references,
            email_thread_id=parsed.thread_root,
            sender=parsed.sender,
            recipients=parsed.recipients,
            cc=parsed.cc,
            subject=parsed.subject,
            text_body=parsed.text_body,
            auto_submitted=parsed.auto_submitted,
            received_at=now,
        )

        async def work(session: Session) -> None:
            await self._database[MESSAGES].insert_one(
                {
                    "_id": inbound_id,
                    "dedupe_key": parsed.dedupe_key,
                    "message_id": parsed.message_id,
                    "sender": parsed.sender.email,
                    "subject": parsed.subject,
                    "channel": channel.value,
                    "size": len(raw),
                    "content_hash": parsed.content_hash,
                    "received_at": now,
                },
                session=session,
            )
            await self._store_raw(session, inbound_id, raw)
            await enqueue(
                self._database,
                session,
                encode_event(event, service="ingest", key=parsed.thread_root),
            )

        try:
            await run_in_transaction(self._client, work)
        except DuplicateKeyError:
            existing = await self._database[MESSAGES].find_one({"dedupe_key": parsed.dedupe_key})
            existing_id = str(existing["_id"]) if existing else ""
            return AcceptResult(AcceptStatus.DUPLICATE, existing_id, parsed.message_id)
        self._on_commit()
        return AcceptResult(AcceptStatus.ACCEPTED, inbound_id, parsed.message_id)

    async def _store_raw(self, session: Session, inbound_id: str, raw: bytes) -> None:
        chunks = [
            {"inbound_id": inbound_id, "n": n, "data": raw[offset : offset + RAW_CHUNK_BYTES]}
            for n, offset in enumerate(range(0, max(len(raw), 1), RAW_CHUNK_BYTES))
        ]
        await self._database[RAW_CHUNKS].insert_many(chunks, session=session)

    async def raw_message(self, inbound_id: str) -> bytes | None:
        chunks = await self._database[RAW_CHUNKS].find({"inbound_id": inbound_id}).sort("n", 1).to_list()
        return b"".join(chunk["data"] for chunk in chunks) if chunks else None
