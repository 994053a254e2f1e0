"""SLA clocks as pure values: start, pause, resume, re-target, meet, breach, cancel. No IO here.

A clock measures business time toward one target of one ticket. It keeps the business seconds
counted before its current running stretch (`counted_seconds`) and when that stretch began
(`running_since`); pausing folds the stretch into the count. While it runs, its due and warning
instants follow from the calendar, so timers are scheduled from them. Every change that moves
those instants bumps `generation`, so a timer scheduled for an older generation is known stale.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from ticketstream.contracts.events import SlaTarget
from ticketstream.contracts.models import Priority
from ticketstream_sla.business_hours import BusinessCalendar


class ClockState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"
    BREACHED = "breached"
    CANCELLED = "cancelled"


class AgentStatus(StrEnum):
    """What agents see next to a target."""

    ON_TRACK = "On Track"
    WARNING = "Warning"
    BREACHED = "Breached"
    MET = "Met"
    PAUSED = "Paused"
    CANCELLED = "Cancelled"


# A breached clock has already told everyone; it still stops (for reports) but fires nothing more.
STOPPED = frozenset({ClockState.MET, ClockState.BREACHED, ClockState.CANCELLED})


class ClockTransitionError(ValueError):
    """The clock cannot make this change from its state."""


@dataclass(frozen=True)
class ClockChange:
    """One entry of a clock's history, kept so `explain` can say which time counted and why."""

    at: datetime
    change: str
    detail: str | None = None


@dataclass(frozen=True)
class Clock:
    ticket_id: str
    ref: str
    target: SlaTarget
    policy_id: str
    policy_version: int
    calendar_id: str
    priority: Priority
    target_seconds: int
    warning_fraction: float
    started_at: datetime
    state: ClockState = ClockState.RUNNING
    counted_seconds: float = 0.0
    running_since: datetime | None = None
    due_at: datetime | None = None
    warning_at: datetime | None = None
    warned: bool = False
    breached_at: datetime | None = None
    stopped_at: datetime | None = None
    generation: int = 1
    history: tuple[ClockChange, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.ticket_id}:{self.target.value}"

    def elapsed(self, calendar: BusinessCalendar, *, now: datetime) -> float:
        """Business seconds counted toward the target up to `now`."""
        if self.running_since is None:
            return self.counted_seconds
        return self.counted_seconds + calendar.business_seconds(self.running_since, now)

    def remaining(self, calendar: BusinessCalendar, *, now: datetime) -> float:
        """Business seconds left before the target; negative once overdue."""
        return self.target_seconds - self.elapsed(calendar, now=now)


def start_clock(
    *,
    ticket_id: str,
    ref: str,
    target: SlaTarget,
    policy_id: str,
    policy_version: int,
    priority: Priority,
    target_seconds: int,
    warning_fraction: float,
    calendar: BusinessCalendar,
    now: datetime,
) -> Clock:
    clock = Clock(
        ticket_id=ticket_id,
        ref=ref,
        target=target,
        policy_id=policy_id,
        policy_version=policy_version,
        calendar_id=calendar.id,
        priority=priority,
        target_seconds=target_seconds,
        warning_fraction=warning_fraction,
        started_at=now,
        running_since=now,
        history=(ClockChange(now, "started", f"target {target_seconds} s of business time"),),
    )
    return _scheduled(clock, calendar)


def pause(clock: Clock, calendar: BusinessCalendar, *, now: datetime, reason: str | None = None) -> Clock:
    if clock.state is not ClockState.RUNNING:
        raise ClockTransitionError(f"a {clock.state.value} clock cannot pause")
    counted = clock.elapsed(calendar, now=now)
    return replace(
        _noted(clock, now, "paused", reason),
        state=ClockState.PAUSED,
        counted_seconds=counted,
        running_since=None,
        due_at=None,
        warning_at=None,
        generation=clock.generation + 1,
    )


def resume(clock: Clock, calendar: BusinessCalendar, *, now: datetime) -> Clock:
    """Run again from `now`, keeping what was counted: after a pause, or a reopen after met."""
    if clock.state not in {ClockState.PAUSED, ClockState.MET}:
        raise ClockTransitionError(f"a {clock.state.value} clock cannot resume")
    running = replace(
        _noted(clock, now, "resumed" if clock.state is ClockState.PAUSED else "reopened"),
        state=ClockState.RUNNING,
        running_since=now,
        stopped_at=None,
        generation=clock.generation + 1,
    )
    return _scheduled(running, calendar)


def retarget(
    clock: Clock,
    calendar: BusinessCalendar,
    *,
    counted_on: BusinessCalendar | None = None,
    target_seconds: int,
    priority: Priority,
    policy_id: str,
    policy_version: int,
    now: datetime,
) -> Clock:
    """A new target on `calendar` from now, keeping the business time counted so far on the
    calendar it ran on (`counted_on`, when that is not `calendar`)."""
    if clock.state in STOPPED:
        raise ClockTransitionError(f"a {clock.state.value} clock keeps its target")
    counted = clock.elapsed(counted_on or calendar, now=now)
    changed = replace(
        _noted(clock, now, "retargeted", f"{priority.value}: target {target_seconds} s"),
        calendar_id=calendar.id,
        target_seconds=target_seconds,
        priority=priority,
        policy_id=policy_id,
        policy_version=policy_version,
        counted_seconds=counted,
        running_since=now if clock.state is ClockState.RUNNING else None,
        generation=clock.generation + 1,
    )
    return _scheduled(changed, calendar) if changed.state is ClockState.RUNNING else changed


def meet(clock: Clock, calendar: BusinessCalendar, *, now: datetime) -> Clock:
    if clock.state not in {ClockState.RUNNING, ClockState.PAUSED}:
        raise ClockTransitionError(f"a {clock.state.value} clock cannot be met")
    return replace(
        _noted(clock, now, "met"),
        state=ClockState.MET,
        counted_seconds=clock.elapsed(calendar, now=now),
        running_since=None,
        due_at=None,
        warning_at=None,
        stopped_at=now,
        generation=clock.generation + 1,
    )


def warn(clock: Clock, *, now: datetime) -> Clock:
    if clock.state is not ClockState.RUNNING or clock.warned:
        raise ClockTransitionError("only a running clock that has not warned can warn")
    return replace(_noted(clock, now, "warned"), warned=True, warning_at=None)


def breach(clock: Clock, *, now: datetime) -> Clock:
    if clock.state is not ClockState.RUNNING:
        raise ClockTransitionError(f"a {clock.state.value} clock cannot breach")
    return replace(
        _noted(clock, now, "breached"),
        state=ClockState.BREACHED,
        breached_at=now,
        warning_at=None,
        warned=True,
    )


def stop_counting(clock: Clock, calendar: BusinessCalendar, *, now: datetime) -> Clock:
    """A breached target whose ticket finished: the overdue time is final."""
    if clock.state is not ClockState.BREACHED or clock.running_since is None:
        raise ClockTransitionError("only a breached clock still counting can stop")
    return replace(
        _noted(clock, now, "stopped"),
        counted_seconds=clock.elapsed(calendar, now=now),
        running_since=None,
        stopped_at=now,
    )


def cancel(clock: Clock, *, now: datetime, reason: str | None = None) -> Clock:
    if clock.state in STOPPED:
        raise ClockTransitionError(f"a {clock.state.value} clock cannot be cancelled")
    return replace(
        _noted(clock, now, "cancelled", reason),
        state=ClockState.CANCELLED,
        running_since=None,
        due_at=None,
        warning_at=None,
        stopped_at=now,
        generation=clock.generation + 1,
    )


def agent_status(clock: Clock, *, now: datetime) -> AgentStatus:
    match clock.state:
        case ClockState.MET:
            return AgentStatus.MET
        case ClockState.PAUSED:
            return AgentStatus.PAUSED
        case ClockState.CANCELLED:
            return AgentStatus.CANCELLED
        case ClockState.BREACHED:
            return AgentStatus.BREACHED
    if clock.due_at is not None and now >= clock.due_at:
        return AgentStatus.BREACHED
    if clock.warned or (clock.warning_at is not None and now >= clock.warning_at):
        return AgentStatus.WARNING
    return AgentStatus.ON_TRACK


def _scheduled(clock: Clock, calendar: BusinessCalendar) -> Clock:
    """Due and warning instants of a running clock, from the business time still to count."""
    assert clock.running_since is not None, "only a running clock is scheduled"
    start = clock.running_since
    left = max(clock.target_seconds - clock.counted_seconds, 0.0)
    due_at = calendar.add_business_seconds(start, left)
    warning_at = None
    if not clock.warned:
        until_warning = clock.target_seconds * clock.warning_fraction - clock.counted_seconds
        warning_at = calendar.add_business_seconds(start, max(until_warning, 0.0))
    return replace(clock, due_at=due_at, warning_at=warning_at)


def _noted(clock: Clock, at: datetime, change: str, detail: str | None = None) -> Clock:
    return replace(clock, history=(*clock.history, ClockChange(at, change, detail)))
