"""Attachment bytes in ingest's database, whichever channel brought them (email, portal).

Each file is one metadata document and its bytes in 4 MB chunks (BSON documents stop at 16 MB),
written inside the caller's transaction together with the message that carries it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pymongo import IndexModel

from ticketstream.contracts.events import AttachmentRef
from ticketstream.db import Database, IndexPlan, Session

ATTACHMENTS = "attachments"
ATTACHMENT_CHUNKS = "attachment_chunks"
ATTACHMENT_CHUNK_BYTES = 4 * 1024 * 1024

INDEXES: IndexPlan = {
    ATTACHMENTS: [IndexModel([("request_id", 1)], name="by_request")],
    ATTACHMENT_CHUNKS: [IndexModel([("storage_id", 1), ("n", 1)], unique=True, name="chunk_order")],
}


@dataclass(frozen=True)
class StoredFile:
    """An attachment ready to be stored: its published reference and its bytes."""

    ref: AttachmentRef
    data: bytes


async def store_file(
    database: Database, session: Session, *, owner_id: str, file: StoredFile, now: datetime
) -> None:
    """Keep one file of message or request `owner_id`, inside the caller's transaction."""
    storage_id = file.ref.storage_id
    await database[ATTACHMENTS].insert_one(
        {
            "_id": storage_id,
            "request_id": owner_id,
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
    await database[ATTACHMENT_CHUNKS].insert_many(chunks, session=session)


class AttachmentStore:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def get(self, storage_id: str) -> StoredFile | None:
        """One stored attachment with its bytes, or None when ingest has no such file."""
        meta = await self._database[ATTACHMENTS].find_one({"_id": storage_id})
        if meta is None:
            return None
        chunks = (
            await self._database[ATTACHMENT_CHUNKS].find({"storage_id": storage_id}).sort("n", 1).to_list()
        )
        ref = AttachmentRef(
            filename=meta["filename"],
            content_type=meta["content_type"],
            size=meta["size"],
            storage_id=storage_id,
        )
        return StoredFile(ref=ref, data=b"".join(chunk["data"] for chunk in chunks))
