"""What the live notification stream reads: notifications by time, and the unread count.

Any replica's consumer may store a notification, so the stream polls the shared collection by
`created_at` (the recipient and created_at index serves it) instead of listening in-process."""

from __future__ import annotations

from datetime import datetime

from pymongo import ASCENDING

from ticketstream.db import Database, Document
from ticketstream_notify.store import NOTIFICATIONS

BATCH = 200


class StreamStore:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def notifications_since(self, recipients: list[str], *, since: datetime) -> list[Document]:
        """Oldest first, created at or after `since`, at most one batch."""
        return (
            await self._database[NOTIFICATIONS]
            .find({"recipient": {"$in": recipients}, "created_at": {"$gte": since}})
            .sort([("created_at", ASCENDING), ("_id", ASCENDING)])
            .limit(BATCH)
            .to_list()
        )

    async def unread_count(self, recipients: list[str], *, reader: str) -> int:
        return await self._database[NOTIFICATIONS].count_documents(
            {"recipient": {"$in": recipients}, "read_by": {"$ne": reader}}
        )
