"""Transactional outbox: events are written with the state change and published by a relay.

A producer calls `enqueue` inside the transaction that changes its state, so an event exists if
and only if the change committed. The relay publishes unsent records in insertion order (so in
order per key), then marks them sent. A crash between publish and mark re-publishes on restart:
delivery is at-least-once and consumers de-duplicate by `ce_id`. When several replicas run, a
lease lets exactly one of them relay at a time, which keeps per-key order across replicas.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from opentelemetry import propagate
from pymongo import IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError, PyMongoError

from ticketstream.contracts import KafkaMessage
from ticketstream.db import Database, Document, IndexPlan, Session

log = logging.getLogger(__name__)

OUTBOX_COLLECTION = "outbox"
LEASE_COLLECTION = "outbox_lease"
SENT_RETENTION = timedelta(days=2)
BACKLOG_REPORT_SECONDS = 2.0

OUTBOX_INDEXES: IndexPlan = {
    OUTBOX_COLLECTION: [
        IndexModel([("sent", 1), ("_id", 1)], name="unsent_in_order"),
        IndexModel(
            [("sent_at", 1)],
            name="sent_expiry",
            expireAfterSeconds=int(SENT_RETENTION.total_seconds()),
        ),
    ],
}

# Publishes a batch of records in order; returns one exception (or None) per record.
PublishBatch = Callable[[Sequence[KafkaMessage]], Awaitable[Sequence[BaseException | None]]]


async def enqueue(database: Database, session: Session, *messages: KafkaMessage) -> None:
    """Add `messages` to the outbox inside the caller's transaction, with the current trace."""
    if not messages:
        return
    now = datetime.now(UTC)
    records = []
    for message in messages:
        headers = dict(message.headers)
        propagate.inject(headers)
        records.append(
            {
                "topic": message.topic,
                "key": message.key,
                "headers": headers,
                "value": message.value,
                "created_at": now,
                "sent": False,
            }
        )
    # insert_many keeps the given order in the generated ids, and so in publication order.
    await database[OUTBOX_COLLECTION].insert_many(records, ordered=True, session=session)


def _message_of(record: Document) -> KafkaMessage:
    return KafkaMessage(
        topic=record["topic"], key=record["key"], headers=record["headers"], value=record["value"]
    )


class OutboxRelay:
    """Publishes a service's outbox. `poke()` after a commit makes it publish without waiting."""

    def __init__(
        self,
        database: Database,
        publish_batch: PublishBatch,
        *,
        poll_interval: float,
        batch_size: int = 500,
        lease_seconds: float = 10.0,
        on_backlog: Callable[[int], None] | None = None,
    ) -> None:
        self._database = database
        self._publish_batch = publish_batch
        self._poll_interval = poll_interval
        self._batch_size = batch_size
        self._lease = timedelta(seconds=lease_seconds)
        self._on_backlog = on_backlog
        self._owner = uuid.uuid4().hex
        self._lease_held_until: datetime | None = None
        self._backlog_reported_at = 0.0
        self._wake = asyncio.Event()
        self._stopping = False

    def poke(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Relay until `stop()`; errors are logged and retried on the next round."""
        while not self._stopping:
            try:
                await self.flush()
                await self._report_backlog()
            except PyMongoError:
                log.exception("outbox relay round failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll_interval)
            self._wake.clear()
        # Events committed just before shutdown go out now rather than at the next start.
        await self.flush()

    def stop(self) -> None:
        """Ask `run` to finish its round, publish what is left and return."""
        self._stopping = True
        self._wake.set()

    async def flush(self) -> None:
        """Publish everything committed so far (graceful shutdown), if this replica may relay."""
        if await self._hold_lease():
            while await self.drain_once() == self._batch_size:
                pass

    async def drain_once(self) -> int:
        """Publish one batch of unsent records in order; return how many were published."""
        outbox = self._database[OUTBOX_COLLECTION]
        records = await outbox.find({"sent": False}).sort("_id", 1).to_list(self._batch_size)
        if not records:
            return 0
        outcomes = await self._publish_batch([_message_of(record) for record in records])
        sent_ids, failed_keys = [], set()
        for record, outcome in zip(records, outcomes, strict=True):
            # Once a record of a key fails, later records of that key wait, to keep key order.
            if outcome is None and record["key"] not in failed_keys:
                sent_ids.append(record["_id"])
            else:
                failed_keys.add(record["key"])
                if outcome is not None:
                    log.warning("outbox publish failed for key %s: %s", record["key"], outcome)
        if sent_ids:
            await outbox.update_many(
                {"_id": {"$in": sent_ids}}, {"$set": {"sent": True, "sent_at": datetime.now(UTC)}}
            )
        return len(sent_ids)

    async def backlog(self) -> int:
        return await self._database[OUTBOX_COLLECTION].count_documents({"sent": False})

    async def _report_backlog(self) -> None:
        # Counting costs a query: under load the relay runs many rounds a second.
        if self._on_backlog is None or time.monotonic() - self._backlog_reported_at < BACKLOG_REPORT_SECONDS:
            return
        self._backlog_reported_at = time.monotonic()
        self._on_backlog(await self.backlog())

    async def _hold_lease(self) -> bool:
        """Take or renew the relay lease; renewal is skipped while over half of it is left."""
        now = datetime.now(UTC)
        if self._lease_held_until is not None and now < self._lease_held_until - self._lease / 2:
            return True
        self._lease_held_until = None
        claim: dict[str, Any] = {"$set": {"owner": self._owner, "expires_at": now + self._lease}}
        try:
            lease = await self._database[LEASE_COLLECTION].find_one_and_update(
                {"_id": "relay", "$or": [{"owner": self._owner}, {"expires_at": {"$lt": now}}]},
                claim,
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            return False  # another replica holds a live lease
        if lease is None or lease.get("owner") != self._owner:
            return False
        self._lease_held_until = now + self._lease
        return True
