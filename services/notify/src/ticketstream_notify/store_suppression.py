"""The suppression list: addresses notify will not mail until an admin clears them."""

from __future__ import annotations

from typing import Any

from pymongo import DESCENDING, IndexModel

from ticketstream.contracts import Envelope
from ticketstream.db import Database, Document, IndexPlan, MongoClient, Session
from ticketstream.inbox import apply_once
from ticketstream_notify.store import CONSUMER, MAILS, MailStatus
from ticketstream_notify.suppression import Suppression, SuppressionSource, normalised

SUPPRESSIONS = "suppressions"
# A Message-ID belongs to one mail; the cap only bounds a lookup of a forged, reused one.
MAX_MATCHED_MAILS = 20

INDEXES: IndexPlan = {SUPPRESSIONS: [IndexModel([("suppressed_at", DESCENDING)])]}


def _document(suppression: Suppression) -> dict[str, Any]:
    return {
        "source": suppression.source.value,
        "reason": suppression.reason,
        "suppressed_at": suppression.suppressed_at,
        "message_id": suppression.message_id,
    }


def _suppression_of(document: Document) -> Suppression:
    return Suppression(
        address=str(document["_id"]),
        source=SuppressionSource(document["source"]),
        reason=str(document["reason"]),
        suppressed_at=document["suppressed_at"],
        message_id=document.get("message_id"),
    )


class SuppressionStore:
    def __init__(self, client: MongoClient, database: Database) -> None:
        self._client = client
        self._database = database

    async def record_bounce(self, envelope: Envelope, suppression: Suppression) -> bool:
        """Suppress a bounced address, once per bounce event; a later bounce refreshes the reason."""

        async def work(session: Session) -> bool:
            await self._put(suppression, session)
            return True

        return bool(await apply_once(self._client, self._database, envelope, consumer=CONSUMER, work=work))

    async def recipients_of(self, message_id: str | None) -> list[str]:
        """The addresses notify sent the mail with this Message-ID to (none for an unknown id)."""
        if not message_id:
            return []
        documents = (
            await self._database[MAILS]
            .find({"message_id": message_id, "status": MailStatus.SENT}, {"to": 1})
            .limit(MAX_MATCHED_MAILS)
            .to_list()
        )
        return [str(document["to"]) for document in documents]

    async def suppress(self, suppression: Suppression) -> None:
        await self._put(suppression, None)

    async def _put(self, suppression: Suppression, session: Session | None) -> None:
        await self._database[SUPPRESSIONS].update_one(
            {"_id": suppression.address}, {"$set": _document(suppression)}, upsert=True, session=session
        )

    async def find(self, address: str) -> Suppression | None:
        document = await self._database[SUPPRESSIONS].find_one({"_id": normalised(address)})
        return None if document is None else _suppression_of(document)

    async def listing(self, *, limit: int) -> list[Suppression]:
        documents = (
            await self._database[SUPPRESSIONS].find().sort("suppressed_at", DESCENDING).limit(limit).to_list()
        )
        return [_suppression_of(document) for document in documents]

    async def clear(self, address: str) -> bool:
        """False when the address was not suppressed."""
        result = await self._database[SUPPRESSIONS].delete_one({"_id": normalised(address)})
        return result.deleted_count == 1
