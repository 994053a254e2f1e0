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
from ticketstream.contracts.events import InboundMessageReceived
from ticketstream.db import Database, Document, IndexPlan, MongoClient, Session, run_in_transaction
from ticketstream.inbox import apply_once
from ticketstream.outbox import enqueue
from ticketstream_ingest.forms import RequestStatus
from ticketstream_ingest.store_files import StoredFile, store_file

REQUESTS = "requests"
CONSUMER = "ingest-requests"

INDEXES: IndexPlan = {
    REQUESTS: [IndexModel([("message_id", 1)], unique=True, name="message_id_unique")],
}


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
                await store_file(
                    self._database, session, owner_id=event.inbound_id, file=file, now=event.received_at
                )
            await enqueue(
                self._database,
                session,
                encode_event(event, service="ingest", key=event.email_thread_id, time=event.received_at),
            )

        await run_in_transaction(self._client, work)
        self._on_commit()

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
