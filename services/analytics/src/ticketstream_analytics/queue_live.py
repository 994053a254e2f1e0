"""The live side of the queue dashboard: computing snapshots and telling open streams about them.

One `QueueBroadcaster` per process polls a cheap change mark in the database (so events applied
by any replica are seen), recomputes the snapshot when it moved or when the refresh period has
passed ("at risk" changes with time alone), and wakes the streams when the numbers differ.
It only polls while at least one stream listens.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from ticketstream_analytics.dashboard import QueueSnapshot, queue_rows
from ticketstream_analytics.store_queue import QueueProjections

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


class QueueDashboard:
    """Reads the active generation of the projection and turns it into a snapshot as of the time
    it is asked."""

    def __init__(self, projections: QueueProjections, *, clock: Callable[[], datetime] = utc_now) -> None:
        self._projections = projections
        self._clock = clock

    async def snapshot(self) -> QueueSnapshot:
        store = await self._projections.active()
        now = self._clock()
        counters = await store.counters()
        at_risk = await store.at_risk_counts(now=now)
        rows = queue_rows(((c.team, c.measure, c.count) for c in counters), at_risk)
        return QueueSnapshot(as_of=now, rows=rows)

    async def change_mark(self) -> tuple[str, int]:
        """Moves whenever the projection changes, including when a rebuild switches generations."""
        store = await self._projections.active()
        return store.generation, await store.change_mark()


class QueueBroadcaster:
    def __init__(
        self,
        dashboard: QueueDashboard,
        *,
        poll_seconds: float,
        refresh_seconds: float,
        heartbeat_seconds: float,
    ) -> None:
        self._dashboard = dashboard
        self.heartbeat_seconds = heartbeat_seconds
        self._poll_seconds = poll_seconds
        self._refresh_seconds = refresh_seconds
        self._listeners = 0
        self._someone_listens = asyncio.Event()
        self._published = asyncio.Event()
        self._sequence = 0
        self._snapshot: QueueSnapshot | None = None

    @property
    def listeners(self) -> int:
        return self._listeners

    @property
    def sequence(self) -> int:
        return self._sequence

    @contextlib.contextmanager
    def listening(self) -> Iterator[None]:
        """Held by each open stream; the poller sleeps while nobody holds it."""
        self._listeners += 1
        self._someone_listens.set()
        try:
            yield
        finally:
            self._listeners -= 1
            if self._listeners == 0:
                self._someone_listens.clear()

    async def next_snapshot(self, *, after: int, timeout: float) -> tuple[int, QueueSnapshot] | None:
        """The first snapshot published after sequence `after`, or None when `timeout` passes first."""
        if self._sequence <= after or self._snapshot is None:
            published = self._published
            try:
                await asyncio.wait_for(published.wait(), timeout)
            except TimeoutError:
                return None
        assert self._snapshot is not None
        return self._sequence, self._snapshot

    async def run(self) -> None:
        """Poll until cancelled; a failed poll is logged and retried at the next tick."""
        last_mark: tuple[str, int] | None = None
        refreshed_at = 0.0
        while True:
            if not self._someone_listens.is_set():
                await self._someone_listens.wait()
                # What was published before the idle spell may be stale: start afresh.
                last_mark, self._snapshot = None, None
            try:
                mark = await self._dashboard.change_mark()
                due = time.monotonic() - refreshed_at >= self._refresh_seconds
                if mark != last_mark or due:
                    snapshot = await self._dashboard.snapshot()
                    last_mark, refreshed_at = mark, time.monotonic()
                    if not snapshot.same_numbers(self._snapshot):
                        self._publish(snapshot)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("queue dashboard poll failed; retrying")
            await asyncio.sleep(self._poll_seconds)

    def _publish(self, snapshot: QueueSnapshot) -> None:
        self._snapshot = snapshot
        self._sequence += 1
        published, self._published = self._published, asyncio.Event()
        published.set()
