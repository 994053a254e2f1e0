"""Canned responses in the tickets database."""

from __future__ import annotations

from datetime import datetime

from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from ticketstream.db import Database, Document
from ticketstream_tickets import canned
from ticketstream_tickets.domain import DomainError

CANNED = "canned_responses"


class CannedNotFoundError(LookupError):
    pass


class CannedStore:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def list(self) -> list[Document]:
        return await self._database[CANNED].find().sort("title", ASCENDING).to_list()

    async def get(self, canned_id: str) -> Document | None:
        return await self._database[CANNED].find_one({"_id": canned_id})

    async def create(self, canned_id: str, *, title: str, body: str, actor: str, now: datetime) -> Document:
        canned.validate(body)
        document = {"_id": canned_id, "title": title, "body": body, "updated_by": actor, "updated_at": now}
        try:
            await self._database[CANNED].insert_one(document)
        except DuplicateKeyError as error:
            raise DomainError(f"a canned response with id {canned_id!r} exists") from error
        return document

    async def replace(self, canned_id: str, *, title: str, body: str, actor: str, now: datetime) -> Document:
        canned.validate(body)
        document = {"_id": canned_id, "title": title, "body": body, "updated_by": actor, "updated_at": now}
        if (await self._database[CANNED].replace_one({"_id": canned_id}, document)).matched_count == 0:
            raise CannedNotFoundError(canned_id)
        return document

    async def delete(self, canned_id: str) -> None:
        if (await self._database[CANNED].delete_one({"_id": canned_id})).deleted_count == 0:
            raise CannedNotFoundError(canned_id)
