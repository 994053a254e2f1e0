"""Keeps the in-memory read model of the active generation's facts current.

The first load reads every fact of the active generation in the background; from then on each
poll reads the facts stamped as changed since the previous poll began, minus an overlap (a
write is stamped before it commits, and replicas' clocks differ), and replaces them by ticket
id, so a fact read twice changes nothing. Every replica polls the database, not only what its
own consumer wrote, so replicas agree. Until a load of the active generation has completed
(at startup and after a rebuild switched generations) `current()` answers None and reports
read the database instead.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from datetime import UTC, datetime, timedelta

from ticketstream_analytics.readmodel import FactIndex
from ticketstream_analytics.store import AnalyticsStore

log = logging.getLogger(__name__)


class FactReader:
    def __init__(self, store: AnalyticsStore, *, refresh_seconds: float, overlap_seconds: float) -> None:
        self._store = store
        self._refresh_seconds = refresh_seconds
        self._overlap = timedelta(seconds=overlap_seconds)
        self._index: FactIndex | None = None
        self._generation: str | None = None
        self._changed_since: datetime | None = None
        self._refreshed_at = 0.0  # monotonic start of the last successful refresh
        self._poll_lock = asyncio.Lock()

    async def run(self) -> None:
        """Load, then poll twice per refresh interval, reloading after a generation switch.

        Twice, so the last poll is always younger than the interval and a report never waits
        for one (`current` polls itself only when this loop has fallen behind)."""
        while True:
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - keep polling; reports fall back meanwhile
                log.warning("analytics read model refresh failed: %s", error)
            await asyncio.sleep(self._refresh_seconds / 2)

    async def refresh(self) -> None:
        if self._index is None:
            await self.load()
        else:
            async with self._poll_lock:
                await self._poll()

    async def load(self) -> None:
        """Read the active generation in full; reports use it once this returns."""
        active, _ = await self._store.generations()
        await self._store.ensure_generation_indexes(active)
        started_at, started = datetime.now(UTC), time.monotonic()
        index = FactIndex()
        async for batch in self._store.fact_batches(active):
            index.stage(batch)  # batch by batch, so the event loop keeps serving meanwhile
        index.publish_staged()
        # The facts live as long as the process; leaving them out of the cyclic collector's full
        # passes keeps those passes (hundreds of ms at 200,000 facts) out of report latency.
        gc.freeze()
        self._index, self._generation = index, active
        self._changed_since, self._refreshed_at = started_at - self._overlap, started
        seconds = time.monotonic() - started
        log.info("analytics read model: %d facts of %s in %.1f s", len(index), active, seconds)

    async def _poll(self) -> None:
        assert self._index is not None
        active, _ = await self._store.generations()
        if active != self._generation:
            self._index = None  # reports read the database until the next load completes
            return
        started_at, started = datetime.now(UTC), time.monotonic()
        async for batch in self._store.fact_batches(active, changed_since=self._changed_since):
            self._index.upsert(batch)
        self._changed_since, self._refreshed_at = started_at - self._overlap, started

    async def current(self) -> FactIndex | None:
        """The read model, polled first if the last refresh is older than the interval (so a
        report reflects facts written up to about one interval ago); None until loaded."""
        if self._index is not None and time.monotonic() - self._refreshed_at >= self._refresh_seconds:
            async with self._poll_lock:
                if self._index is not None and time.monotonic() - self._refreshed_at >= self._refresh_seconds:
                    try:
                        await self._poll()
                    except Exception as error:  # noqa: BLE001 - answer from the last refresh
                        log.warning("analytics read model poll failed: %s", error)
        return self._index
