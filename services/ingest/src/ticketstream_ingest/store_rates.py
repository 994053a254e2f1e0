"""Rate-limit counters in ingest's database, so that every replica counts the same requests.

One small document per key and fixed window, incremented atomically and removed by a TTL index
once it can no longer weigh in. Counting is deliberately outside any transaction: a counter is
a hot document, and a refused request takes its hit back instead of rolling anything back.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from pymongo import IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError

from ticketstream.db import Database, IndexPlan
from ticketstream_ingest.rate_limits import RATE_WINDOW, RateScope, WindowCounts, window_end, window_index

RATE_COUNTERS = "rate_counters"

INDEXES: IndexPlan = {
    RATE_COUNTERS: [IndexModel([("expires_at", 1)], name="expiry", expireAfterSeconds=0)],
}


def _counter_id(channel: str, scope: RateScope, key: str, index: int) -> str:
    return f"{channel}:{scope.value}:{key}:{index}"


class RateStore:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def hit(
        self, *, channel: str, keys: Mapping[RateScope, str], now: datetime, window: timedelta = RATE_WINDOW
    ) -> dict[RateScope, WindowCounts]:
        """Count one request under each key; return the counts including it."""
        index = window_index(now, window=window)
        counts: dict[RateScope, WindowCounts] = {}
        for scope, key in keys.items():
            current = await self._increment(_counter_id(channel, scope, key, index), index, window)
            previous = await self._database[RATE_COUNTERS].find_one(
                {"_id": _counter_id(channel, scope, key, index - 1)}, {"count": 1}
            )
            counts[scope] = WindowCounts(previous=int(previous["count"]) if previous else 0, current=current)
        return counts

    async def take_back(
        self, *, channel: str, keys: Mapping[RateScope, str], now: datetime, window: timedelta = RATE_WINDOW
    ) -> None:
        """Undo `hit` for a request that was refused, so that refusals do not extend the wait."""
        index = window_index(now, window=window)
        for scope, key in keys.items():
            await self._database[RATE_COUNTERS].update_one(
                {"_id": _counter_id(channel, scope, key, index), "count": {"$gt": 0}}, {"$inc": {"count": -1}}
            )

    async def _increment(self, counter_id: str, index: int, window: timedelta) -> int:
        try:
            return await self._upsert_count(counter_id, index, window)
        except DuplicateKeyError:
            # Two first hits raced to create the counter; the loser increments the winner's.
            return await self._upsert_count(counter_id, index, window)

    async def _upsert_count(self, counter_id: str, index: int, window: timedelta) -> int:
        # Kept until the end of the next window, where it still weighs in as the previous one.
        document = await self._database[RATE_COUNTERS].find_one_and_update(
            {"_id": counter_id},
            {"$inc": {"count": 1}, "$setOnInsert": {"expires_at": window_end(index + 1, window=window)}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return int(document["count"]) if document else 1
