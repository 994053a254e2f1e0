"""The managed category and label lists and the custom field definitions, in the tickets database."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pymongo import ASCENDING

from ticketstream.db import Database, Document, Session
from ticketstream_tickets.vocabulary import FieldDefinition, FieldType, ManagedList, Vocabulary

LISTS = "managed_lists"
CUSTOM_FIELDS = "custom_fields"

ListName = Literal["categories", "labels"]


def _list_of(document: Document | None) -> ManagedList:
    if document is None:
        return ManagedList()
    return ManagedList(values=tuple(document["values"]), restricted=bool(document["restricted"]))


def _definition_of(document: Document) -> FieldDefinition:
    return FieldDefinition(
        key=document["_id"],
        label=document["label"],
        type=FieldType(document["type"]),
        options=tuple(document.get("options", ())),
        required_to_resolve=bool(document.get("required_to_resolve", False)),
    )


class VocabularyStore:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def load(self, session: Session | None = None) -> Vocabulary:
        lists = {
            document["_id"]: document
            for document in await self._database[LISTS].find({}, session=session).to_list()
        }
        fields = await self._database[CUSTOM_FIELDS].find({}, session=session).to_list()
        return Vocabulary(
            categories=_list_of(lists.get("categories")),
            labels=_list_of(lists.get("labels")),
            fields={document["_id"]: _definition_of(document) for document in fields},
        )

    async def managed_list(self, name: ListName) -> ManagedList:
        return _list_of(await self._database[LISTS].find_one({"_id": name}))

    async def put_managed_list(
        self, name: ListName, managed: ManagedList, *, actor: str, now: datetime
    ) -> None:
        await self._database[LISTS].replace_one(
            {"_id": name},
            {
                "values": list(managed.values),
                "restricted": managed.restricted,
                "updated_by": actor,
                "updated_at": now,
            },
            upsert=True,
        )

    async def custom_fields(self) -> list[FieldDefinition]:
        documents = await self._database[CUSTOM_FIELDS].find().sort("_id", ASCENDING).to_list()
        return [_definition_of(document) for document in documents]

    async def put_custom_field(self, definition: FieldDefinition, *, actor: str, now: datetime) -> None:
        await self._database[CUSTOM_FIELDS].replace_one(
            {"_id": definition.key},
            {
                "label": definition.label,
                "type": definition.type.value,
                "options": list(definition.options),
                "required_to_resolve": definition.required_to_resolve,
                "updated_by": actor,
                "updated_at": now,
            },
            upsert=True,
        )

    async def delete_custom_field(self, key: str) -> bool:
        return (await self._database[CUSTOM_FIELDS].delete_one({"_id": key})).deleted_count == 1
