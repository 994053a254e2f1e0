"""API keys of integrations in the tickets database: only the secret's digest is stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from pymongo import ASCENDING

from ticketstream.auth import Principal, Role, digest_matches, new_api_key
from ticketstream.db import Database, Document

API_KEYS = "api_keys"
# Last use is recorded at most this often per key, so a busy integration does not write per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class ApiKey:
    """A key as administrators see it: everything but its secret."""

    id: str
    name: str
    role: Role
    teams: list[str]
    scopes: list[str]
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


def _key_of(document: Document) -> ApiKey:
    return ApiKey(
        id=document["_id"],
        name=document["name"],
        role=Role(document["role"]),
        teams=list(document["teams"]),
        scopes=list(document["scopes"]),
        created_by=document["created_by"],
        created_at=document["created_at"],
        expires_at=document["expires_at"],
        last_used_at=document["last_used_at"],
        revoked_at=document["revoked_at"],
    )


class ApiKeyStore:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def create(
        self,
        *,
        name: str,
        role: Role,
        teams: list[str],
        scopes: list[str],
        expires_at: datetime | None,
        actor: str,
        now: datetime,
    ) -> tuple[ApiKey, str]:
        """The stored key and the presentable key, which is returned this once only."""
        key = new_api_key()
        document = {
            "_id": key.key_id,
            "name": name,
            "role": role.value,
            "teams": teams,
            "scopes": sorted(set(scopes)),
            "secret_digest": key.secret_digest,
            "created_by": actor,
            "created_at": now,
            "expires_at": expires_at,
            "last_used_at": None,
            "revoked_at": None,
        }
        await self._database[API_KEYS].insert_one(document)
        return _key_of(document), key.presented

    async def list_keys(self) -> list[ApiKey]:
        documents = await self._database[API_KEYS].find().sort("created_at", ASCENDING).to_list()
        return [_key_of(document) for document in documents]

    async def revoke(self, key_id: str, *, now: datetime) -> bool:
        result = await self._database[API_KEYS].update_one(
            {"_id": key_id, "revoked_at": None}, {"$set": {"revoked_at": now}}
        )
        return result.matched_count == 1

    async def resolve(self, key_id: str, secret: str, *, now: datetime) -> Principal | None:
        document = await self._database[API_KEYS].find_one({"_id": key_id})
        if (
            document is None
            or document["revoked_at"] is not None
            or (document["expires_at"] is not None and document["expires_at"] <= now)
            or not digest_matches(secret, document["secret_digest"])
        ):
            return None
        last_used = document["last_used_at"]
        if last_used is None or now - last_used > LAST_USED_RESOLUTION:
            await self._database[API_KEYS].update_one({"_id": key_id}, {"$set": {"last_used_at": now}})
        return Principal(
            sub=f"apikey:{key_id}",
            role=Role(document["role"]),
            name=document["name"],
            teams=document["teams"],
            scopes=document["scopes"],
        )
