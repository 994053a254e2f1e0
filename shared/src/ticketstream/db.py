"""MongoDB access for every service: client factory, index bootstrap and the transaction helper.

Uses pymongo's native async API (`AsyncMongoClient`), not motor, which MongoDB has deprecated.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.monitoring import CommandListener

from ticketstream.settings import PlatformSettings

log = logging.getLogger(__name__)

T = TypeVar("T")
Document = dict[str, Any]
MongoClient = AsyncMongoClient[Document]
Database = AsyncDatabase[Document]
Session = AsyncClientSession
IndexPlan = Mapping[str, Sequence[IndexModel]]


def create_mongo_client(
    settings: PlatformSettings, *, listeners: Sequence[CommandListener] = ()
) -> MongoClient:
    """A client that does not connect until first used (no IO at construction)."""
    return AsyncMongoClient(
        settings.mongo_url,
        tz_aware=True,
        appname=f"ticketstream-{settings.service_name}",
        serverSelectionTimeoutMS=5_000,
        event_listeners=list(listeners),
    )


async def ensure_indexes(database: Database, plan: IndexPlan) -> None:
    """Create every index a service declares; safe to run on every start and on every replica."""
    for collection, indexes in plan.items():
        if indexes:
            await database[collection].create_indexes(list(indexes))


async def ping(client: MongoClient) -> None:
    await client.admin.command("ping")


async def run_in_transaction(client: MongoClient, work: Callable[[Session], Awaitable[T]]) -> T:
    """Run `work` in one multi-document transaction.

    pymongo's `with_transaction` re-runs the whole callback on TransientTransactionError (write
    conflicts on hot documents) and retries the commit on UnknownTransactionCommitResult, so
    `work` must be written to be re-run: it reads what it needs inside the transaction.
    """
    async with client.start_session() as session:
        return await session.with_transaction(work)
