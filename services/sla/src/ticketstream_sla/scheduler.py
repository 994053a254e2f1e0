"""The timer loop of one sla replica: hold shard leases, keep the timers due soon in memory and
fire each at its instant.

Polling the database alone would make timers late by up to a poll interval; instead the timers
due within the look-ahead are put on the event loop (`call_at`) and fire on time. Timers set by
this replica's own commits are offered directly, so a target seconds away is not late either.
Due timers are fired by one drain in transactions of up to `batch` timers: under load, what fell
due while one transaction ran goes into the next, so the commit cost is shared.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from ticketstream_sla.store import SlaStore
from ticketstream_sla.store_leases import LeaseStore
from ticketstream_sla.timers import Timer

log = logging.getLogger(__name__)

# Timers loaded per poll: a backlog after downtime is worked off over a few polls, soonest first.
BATCH = 1000


class TimerScheduler:
    def __init__(
        self,
        store: SlaStore,
        leases: LeaseStore,
        *,
        poll: timedelta,
        look_ahead: timedelta,
        batch: int,
        on_fired: Callable[[Timer, float], None] = lambda timer, lateness: None,
    ) -> None:
        self._store = store
        self._leases = leases
        self._poll = poll
        self._look_ahead = look_ahead
        self._batch = batch
        self._on_fired = on_fired
        self._shards: set[int] = set()
        self._pending: dict[str, tuple[Timer, int, asyncio.TimerHandle]] = {}
        self._due: dict[str, Timer] = {}  # fell due: waiting for, or in, a firing transaction
        self._drain: asyncio.Task[None] | None = None
        self._stopped = False
        self._wake = asyncio.Event()
        store.on_timers_set = self.offer

    @property
    def shards(self) -> frozenset[int]:
        return frozenset(self._shards)

    async def run(self) -> None:
        while True:
            try:
                await self._poll_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("timer poll failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll.total_seconds())
            self._wake.clear()

    async def stop(self) -> None:
        # Handlers may still commit while the service shuts down: their timers stay stored.
        self._stopped = True
        self._shards = set()
        for _, _, handle in self._pending.values():
            handle.cancel()
        self._pending.clear()
        # An interrupted firing aborts its transaction; the timers stay stored for the next start.
        self._due.clear()
        if self._drain is not None:
            self._drain.cancel()
            await asyncio.gather(self._drain, return_exceptions=True)
        await self._leases.release(now=datetime.now(UTC))

    async def _poll_once(self) -> None:
        now = datetime.now(UTC)
        self._shards = await self._leases.hold(now=now)
        for timer_id in [key for key, (_, shard, _) in self._pending.items() if shard not in self._shards]:
            self._pending.pop(timer_id)[2].cancel()
        if not self._shards:
            return
        due = await self._store.due_timers(self._shards, until=now + self._look_ahead, limit=BATCH)
        for timer, shard in due:
            self._schedule(timer, shard)

    def offer(self, timers: list[tuple[Timer, int]]) -> None:
        """Timers just written by this replica: schedule those due before the next poll."""
        horizon = datetime.now(UTC) + self._look_ahead
        for timer, shard in timers:
            if timer.at <= horizon:
                self._schedule(timer, shard)

    def _schedule(self, timer: Timer, shard: int) -> None:
        if self._stopped or shard not in self._shards or self._is_due(timer):
            return
        known = self._pending.get(timer.id)
        if known is not None:
            if (known[0].generation, known[0].kind) == (timer.generation, timer.kind):
                return
            known[2].cancel()
        loop = asyncio.get_running_loop()
        delay = max((timer.at - datetime.now(UTC)).total_seconds(), 0.0)
        handle = loop.call_at(loop.time() + delay, self._start_firing, timer)
        self._pending[timer.id] = (timer, shard, handle)

    async def _fire(self, batch: list[Timer]) -> list[Timer]:
        """Fire a batch; when it fails, each timer alone, so one bad timer holds up no other.
        A timer that still fails stays stored and is tried again on the next poll."""
        try:
            return await self._store.fire(batch)
        except Exception:
            if len(batch) == 1:
                log.exception("firing %s failed; it is retried on the next poll", batch[0].id)
                return []
        fired = []
        for timer in batch:
            fired.extend(await self._fire([timer]))
        return fired

    def _is_due(self, timer: Timer) -> bool:
        """Already handed to the drain (a poll can load a timer again before it has fired)."""
        queued = self._due.get(timer.id)
        return queued is not None and (queued.generation, queued.kind) == (timer.generation, timer.kind)

    def _start_firing(self, timer: Timer) -> None:
        self._pending.pop(timer.id, None)
        self._due[timer.id] = timer
        if self._drain is None or self._drain.done():
            self._drain = asyncio.create_task(self._fire_due(), name="fire due timers")

    async def _fire_due(self) -> None:
        while self._due:
            batch = sorted(self._due.values(), key=lambda timer: timer.at)[: self._batch]
            try:
                fired = await self._fire(batch)
            finally:
                for timer in batch:
                    if self._due.get(timer.id) is timer:
                        del self._due[timer.id]
            now = datetime.now(UTC)
            for timer in fired:
                self._on_fired(timer, (now - timer.at).total_seconds())
