"""Notify's copy of the staff directory: agents (address, role, teams) and teams (leads,
managers), kept from tickets' compacted `ticketstream.directory.v1`."""

from __future__ import annotations

from collections.abc import Iterable

from pymongo import ASCENDING, IndexModel

from ticketstream.contracts.events import DirectoryAgent, DirectoryTeam
from ticketstream.db import Database, Document, IndexPlan
from ticketstream_notify.directory import StaffDirectory, StaffMember, Team

AGENTS = "directory_agents"
TEAMS = "directory_teams"

DIRECTORY_INDEXES: IndexPlan = {
    AGENTS: [IndexModel([("teams", ASCENDING)]), IndexModel([("role", ASCENDING)])],
}


def _member(document: Document) -> StaffMember:
    return StaffMember(
        id=str(document["_id"]),
        email=document["email"],
        name=document["name"],
        role=document["role"],
        teams=tuple(document.get("teams", [])),
    )


def _team(document: Document) -> Team:
    return Team(
        id=str(document["_id"]),
        name=document["name"],
        lead_ids=tuple(document.get("lead_ids", [])),
        manager_ids=tuple(document.get("manager_ids", [])),
    )


class DirectoryStore:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def apply(self, event: DirectoryAgent | DirectoryTeam) -> bool:
        """Keep the newest version of an entity (a tombstone removes it); a replayed or older event
        changes nothing, so the compacted topic can be read again from its start."""
        collection = self._database[AGENTS if isinstance(event, DirectoryAgent) else TEAMS]
        known = await collection.find_one({"_id": event.id}, {"occurred_at": 1})
        if known is not None and known["occurred_at"] >= event.occurred_at:
            return False
        if isinstance(event, DirectoryAgent):
            fields = {
                "email": event.email.lower(),
                "name": event.name,
                "role": event.role,
                "teams": event.teams,
            }
        else:
            fields = {"name": event.name, "lead_ids": event.lead_ids, "manager_ids": event.manager_ids}
        document = {**fields, "deleted": event.deleted, "occurred_at": event.occurred_at}
        await collection.replace_one({"_id": event.id}, document, upsert=True)
        return True

    async def slice(
        self, *, team_id: str | None, member_ids: Iterable[str], roles: Iterable[str] = ()
    ) -> StaffDirectory:
        """The named members, the team with its members, leads and managers, and everyone with
        one of `roles`."""
        teams = {}
        if team_id:
            found = await self._database[TEAMS].find_one({"_id": team_id, "deleted": False})
            if found is not None:
                teams[team_id] = _team(found)
        wanted = list(dict.fromkeys(member_ids))
        for team in teams.values():
            wanted += [*team.lead_ids, *team.manager_ids]
        alternatives: list[Document] = [{"_id": {"$in": wanted}}]
        if team_id:
            alternatives.append({"teams": team_id})
        if roles:
            alternatives.append({"role": {"$in": list(roles)}})
        documents = await self._database[AGENTS].find({"$or": alternatives, "deleted": False}).to_list()
        return StaffDirectory(members={str(d["_id"]): _member(d) for d in documents}, teams=teams)
