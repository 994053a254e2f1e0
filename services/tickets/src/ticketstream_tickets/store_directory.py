"""Teams and agents in the tickets database, published on ticketstream.directory.v1."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from pymongo import ASCENDING, IndexModel

from ticketstream.contracts import encode_event
from ticketstream.contracts.events import DirectoryAgent, DirectoryEvent, DirectoryTeam
from ticketstream.db import Database, Document, IndexPlan, MongoClient, Session, run_in_transaction
from ticketstream.outbox import enqueue

TEAMS = "teams"
AGENTS = "agents"

INDEXES: IndexPlan = {AGENTS: [IndexModel([("email", ASCENDING)], unique=True)]}


class DirectoryStore:
    def __init__(self, client: MongoClient, database: Database, *, on_commit: Callable[[], None]) -> None:
        self._client = client
        self._database = database
        self._on_commit = on_commit

    async def put_team(
        self,
        team_id: str,
        *,
        name: str,
        member_ids: list[str],
        lead_ids: list[str],
        manager_ids: list[str],
        now: datetime,
    ) -> Document:
        document = {
            "_id": team_id,
            "name": name,
            "member_ids": sorted(set(member_ids)),
            "lead_ids": sorted(set(lead_ids)),
            "manager_ids": sorted(set(manager_ids)),
            "updated_at": now,
        }
        event = DirectoryTeam(
            id=team_id,
            name=name,
            lead_ids=document["lead_ids"],
            manager_ids=document["manager_ids"],
            occurred_at=now,
        )
        await self._write(TEAMS, document, event)
        return document

    async def put_agent(
        self, agent_id: str, *, email: str, name: str, role: str, teams: list[str], now: datetime
    ) -> Document:
        document = {
            "_id": agent_id,
            "email": email.lower(),
            "name": name,
            "role": role,
            "teams": sorted(set(teams)),
            "updated_at": now,
        }
        event = DirectoryAgent(
            id=agent_id,
            email=document["email"],
            name=name,
            role=role,
            teams=document["teams"],
            occurred_at=now,
        )
        await self._write(AGENTS, document, event)
        return document

    async def delete(self, collection: str, entity_id: str, *, now: datetime) -> bool:
        existing = await self._database[collection].find_one({"_id": entity_id})
        if existing is None:
            return False
        tombstone: DirectoryEvent
        if collection == TEAMS:
            tombstone = DirectoryTeam(id=entity_id, name=existing["name"], deleted=True, occurred_at=now)
        else:
            tombstone = DirectoryAgent(
                id=entity_id,
                email=existing["email"],
                name=existing["name"],
                role=existing["role"],
                deleted=True,
                occurred_at=now,
            )

        async def work(session: Session) -> None:
            await self._database[collection].delete_one({"_id": entity_id}, session=session)
            await enqueue(self._database, session, encode_event(tombstone, service="tickets", key=entity_id))

        await run_in_transaction(self._client, work)
        self._on_commit()
        return True

    async def _write(self, collection: str, document: Document, event: DirectoryEvent) -> None:
        async def work(session: Session) -> None:
            await self._database[collection].replace_one(
                {"_id": document["_id"]}, document, upsert=True, session=session
            )
            await enqueue(self._database, session, encode_event(event, service="tickets", key=event.id))

        await run_in_transaction(self._client, work)
        self._on_commit()

    async def list(self, collection: str) -> list[Document]:
        return await self._database[collection].find().sort("_id", ASCENDING).to_list()

    async def get(self, collection: str, entity_id: str) -> Document | None:
        return await self._database[collection].find_one({"_id": entity_id})
