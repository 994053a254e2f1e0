"""Portal and chat requests in ingest's database: the request, its files and its outbox event.

A request is stored with its attachments' bytes and its `inbound.message.received` event in one
transaction. Its status turns from pending to created when tickets reports the ticket made from
it (`ticket.created` whose `email_thread_id` is the request's Message-ID).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from pymongo import IndexModel

from ticketstream.contracts import Envelope, encode_event
from ticketstream.contracts.events import AttachmentRef, InboundMessageReceived
from ticketstream.db import Database, Document, IndexPlan, MongoClient, Session, run_in_transaction
from ticketstream.inbox import apply_once
from ticketstream.outbox import enqueue
from ticketstream_ingest.forms import RequestStatus

REQUESTS = "requests"
ATTACHMENTS = "attachments"
ATTACHMENT_CHUNKS = "attachment_chunks"
# BSON documents stop at 16 MB; files may be larger, so their bytes are chunked.
ATTACHMENT_CHUNK_BYTES = 4 * 1024 * 1024
CONSUMER = "ingest-requests"

INDEXES: IndexPlan = {
    REQUESTS: [IndexModel([("message_id", 1)], unique=True, name="message_id_unique")],
    ATTACHMENTS: [IndexModel([("request_id", 1)], name="by_request")],
    ATTACHMENT_CHUNKS: [IndexModel([("storage_id", 1), ("n", 1)], unique=True, name="chunk_order")],
}


@dataclass(frozen=True)
class StoredFile:
    """An attachment ready to be stored: its published reference and its bytes."""

    ref: AttachmentRef
    data: bytes


@dataclass(frozen=True)
class RequestState:
    request_id: str
    status: RequestStatus
    ref: str | None = None
    ticket_id: str | None = None


class RequestStore:
    def __init__(self, client: MongoClient, database: Database, *, on_commit: Callable[[], None]):
        self._client = client
        self._database = database
        self._on_commit = on_commit

    async def accept_request(
        self, *, event: InboundMessageReceived, files: list[StoredFile], client_address: str
    ) -> None:
        """Store the request, its files and its event in one transaction."""
        document: Document = {
            "_id": event.inbound_id,
            "channel": event.channel.value,
            "message_id": event.message_id,
            "sender": event.sender.email,
            "subject": event.subject,
            "client_address": client_address,
            "attachment_ids": [file.ref.storage_id for file in files],
            "status": RequestStatus.PENDING.value,
            "received_at": event.received_at,
        }

        async def work(session: Session) -> None:
            await self._database[REQUESTS].insert_one(document, session=session)
            for file in files:
                await self._store_file(session, event.inbound_id, file, now=event.received_at)
            await enqueue(
                self._database,
                session,
                encode_event(event, service="ingest", key=event.email_thread_id, time=event.received_at),
            )

        await run_in_transaction(self._client, work)
        self._on_commit()

    async def _store_file(
        self, session: Session, request_id: str, file: StoredFile, *, now: datetime
    ) -> None:
        storage_id = file.ref.storage_id
        await self._database[ATTACHMENTS].insert_one(
            {
                "_id": storage_id,
                "request_id": request_id,
                "filename": file.ref.filename,
                "content_type": file.ref.content_type,
                "size": file.ref.size,
                "stored_at": now,
            },
            session=session,
        )
        chunks = [
            {"storage_id": storage_id, "n": n, "data": file.data[offset : offset + ATTACHMENT_CHUNK_BYTES]}
            for n, offset in enumerate(range(0, max(len(file.data), 1), ATTACHMENT_CHUNK_BYTES))
        ]
        await self._database[ATTACHMENT_CHUNKS].insert_many(chunks, session=session)

    async def attachment_bytes(self, storage_id: str) -> bytes | None:
        """The stored bytes of one attachment, or None when ingest has no such file."""
        if await self._database[ATTACHMENTS].find_one({"_id": storage_id}, {"_id": 1}) is None:
            return None
        chunks = (
            await self._database[ATTACHMENT_CHUNKS].find({"storage_id": storage_id}).sort("n", 1).to_list()
        )
        return b"".join(chunk["data"] for chunk in chunks)

    async def request_state(self, request_id: str) -> RequestState | None:
        document = await self._database[REQUESTS].find_one({"_id": request_id})
        if document is None:
            return None
        return RequestState(
            request_id=str(document["_id"]),
            status=RequestStatus(document["status"]),
            ref=document.get("ref"),
            ticket_id=document.get("ticket_id"),
        )

    async def record_ticket(
        self, envelope: Envelope, *, message_id: str, ticket_id: str, ref: str, now: datetime
    ) -> bool:
        """Mark the request with `message_id` as having become ticket `ref`, once.

        False when the event was applied before, or when no pending request has that id (an
        email thread that merely looks like one of ours is left alone).
        """

        async def work(session: Session) -> bool:
            result = await self._database[REQUESTS].update_one(
                {"message_id": message_id, "status": RequestStatus.PENDING.value},
                {
                    "$set": {
                        "status": RequestStatus.CREATED.value,
                        "ref": ref,
                        "ticket_id": ticket_id,
                        "ticket_known_at": now,
                    }
                },
                session=session,
            )
            return result.modified_count == 1

        return bool(await apply_once(self._client, self._database, envelope, consumer=CONSUMER, work=work))
