"""Durable timers as values: which timer a clock or a waiting ticket needs next, and which
replica fires it. No IO here.

Each subject (a clock, or a ticket waiting on its customer) has at most one pending timer: the
next thing due for it. A timer carries the subject's generation when it was set, so a timer that
outlived a change of its subject is recognised as stale and does nothing. Timers are spread over
a fixed number of shards; a replica fires only the timers of the shards it leases.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from ticketstream_sla.clocks import Clock, ClockState


class TimerKind(StrEnum):
    WARNING = "warning"
    BREACH = "breach"
    REMINDER = "reminder"
    AUTO_CLOSE = "auto_close"


class TimerSubject(StrEnum):
    CLOCK = "clock"
    WAITING = "waiting"


@dataclass(frozen=True)
class Timer:
    subject: TimerSubject
    subject_id: str
    ticket_id: str
    kind: TimerKind
    at: datetime
    generation: int

    @property
    def id(self) -> str:
        return timer_id(self.subject, self.subject_id)


def timer_id(subject: TimerSubject, subject_id: str) -> str:
    """One pending timer per subject: setting the next one replaces the last."""
    return f"{subject.value}:{subject_id}"


def clock_timer(clock: Clock) -> Timer | None:
    """The warning while it is still ahead, else the breach; none unless the clock runs."""
    if clock.state is not ClockState.RUNNING or clock.due_at is None:
        return None
    if not clock.warned and clock.warning_at is not None and clock.warning_at < clock.due_at:
        kind, at = TimerKind.WARNING, clock.warning_at
    else:
        kind, at = TimerKind.BREACH, clock.due_at
    return Timer(TimerSubject.CLOCK, clock.id, clock.ticket_id, kind, at, clock.generation)


def shard_of(ticket_id: str, shards: int) -> int:
    """Stable across processes and restarts (unlike hash()), so every replica agrees."""
    return zlib.crc32(ticket_id.encode()) % shards


def fair_share(shards: int, live_replicas: int) -> int:
    """How many shards one replica should hold so that every shard has an owner."""
    return math.ceil(shards / max(live_replicas, 1))
