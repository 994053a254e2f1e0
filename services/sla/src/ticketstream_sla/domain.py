"""Pure SLA rules: default policies and the clocks a new ticket starts. No IO here.

The foundation uses a 24x7 calendar; business-hours calendars arrive with the SLA engine work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ticketstream.contracts.events import SlaTarget
from ticketstream.contracts.models import Priority
from ticketstream_sla.clocks import AgentStatus, ClockState

WARNING_FRACTION = 0.75


@dataclass(frozen=True)
class Policy:
    id: str
    name: str
    priority: Priority
    first_response: timedelta
    resolution: timedelta | None


def _hours(value: float) -> timedelta:
    return timedelta(hours=value)


DEFAULT_POLICIES: tuple[Policy, ...] = (
    Policy("default-urgent", "Urgent", Priority.URGENT, _hours(1), _hours(4)),
    Policy("default-high", "High", Priority.HIGH, _hours(4), _hours(24)),
    Policy("default-medium", "Medium", Priority.MEDIUM, _hours(8), _hours(48)),
    Policy("default-low", "Low", Priority.LOW, _hours(24), _hours(120)),
)


@dataclass(frozen=True)
class Clock:
    ticket_id: str
    ref: str
    target: SlaTarget
    policy_id: str
    priority: Priority
    started_at: datetime
    target_seconds: int
    state: ClockState = ClockState.RUNNING

    @property
    def id(self) -> str:
        return f"{self.ticket_id}:{self.target.value}"

    @property
    def due_at(self) -> datetime:
        return self.started_at + timedelta(seconds=self.target_seconds)

    @property
    def warning_at(self) -> datetime:
        return self.started_at + timedelta(seconds=self.target_seconds * WARNING_FRACTION)


def policy_for(priority: Priority, policies: list[Policy]) -> Policy:
    for policy in policies:
        if policy.priority is priority:
            return policy
    raise LookupError(f"no SLA policy for priority {priority}")


def clocks_for_new_ticket(
    *, ticket_id: str, ref: str, priority: Priority, policy: Policy, created_at: datetime
) -> list[Clock]:
    """First response always; resolution when the policy has a resolution target."""
    targets = [(SlaTarget.FIRST_RESPONSE, policy.first_response)]
    if policy.resolution is not None:
        targets.append((SlaTarget.RESOLUTION, policy.resolution))
    return [
        Clock(
            ticket_id=ticket_id,
            ref=ref,
            target=target,
            policy_id=policy.id,
            priority=priority,
            started_at=created_at,
            target_seconds=int(duration.total_seconds()),
        )
        for target, duration in targets
    ]


def remaining_seconds(clock: Clock, *, now: datetime) -> int:
    return int((clock.due_at - now).total_seconds())


def agent_status(clock: Clock, *, now: datetime) -> AgentStatus:
    if clock.state is ClockState.MET:
        return AgentStatus.MET
    if clock.state is ClockState.PAUSED:
        return AgentStatus.PAUSED
    if clock.state is ClockState.BREACHED or now >= clock.due_at:
        return AgentStatus.BREACHED
    if now >= clock.warning_at:
        return AgentStatus.WARNING
    return AgentStatus.ON_TRACK
