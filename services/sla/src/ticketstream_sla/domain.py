"""What ticket events, due timers and policy changes do to a ticket's SLA clocks, and the events that says.
No IO here: the store loads the clocks, policy and calendar, and saves and publishes the result.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from ticketstream.contracts.events import (
    ChatAuthorRole,
    SlaBreached,
    SlaClockCancelled,
    SlaClockPaused,
    SlaClockResumed,
    SlaClockRetargeted,
    SlaClockStarted,
    SlaEvent,
    SlaMet,
    SlaTarget,
    SlaWarning,
    TicketArchived,
    TicketCreated,
    TicketEvent,
    TicketInteractionAdded,
    TicketMerged,
    TicketStatusChanged,
)
from ticketstream.contracts.models import InteractionType, TicketStatus
from ticketstream_sla import clocks
from ticketstream_sla.business_hours import BusinessCalendar
from ticketstream_sla.clocks import Clock, ClockState
from ticketstream_sla.policies import Policy
from ticketstream_sla.timers import TimerKind

FINISHED = frozenset({TicketStatus.RESOLVED, TicketStatus.CLOSED})
CUSTOMER_MESSAGES = frozenset(
    {InteractionType.EMAIL_INBOUND, InteractionType.PORTAL_MESSAGE, InteractionType.CHAT, InteractionType.SMS}
)


@dataclass(frozen=True)
class Reaction:
    """The clocks that changed (new ones included) and the events to publish, in order."""

    clocks: list[Clock] = field(default_factory=list)
    events: list[SlaEvent] = field(default_factory=list)

    def add(self, clock: Clock, event: SlaEvent) -> None:
        self.clocks.append(clock)
        self.events.append(event)


def _event(kind: type[SlaEvent], clock: Clock, *, now: datetime) -> SlaEvent:
    details = (
        {"target_seconds": clock.target_seconds} if kind in {SlaClockStarted, SlaClockRetargeted} else {}
    )
    return kind(
        ticket_id=clock.ticket_id,
        ref=clock.ref,
        clock_id=clock.id,
        target=clock.target,
        policy_id=clock.policy_id,
        priority=clock.priority,
        due_at=clock.due_at,
        occurred_at=now,
        **details,
    )


@dataclass(frozen=True)
class Calendars:
    """The calendar of the ticket's policy now, and those the existing clocks counted on so far
    (a clock counts its past on its own calendar even when the policy has moved to another)."""

    policy: BusinessCalendar
    of_clocks: Mapping[str, BusinessCalendar] = field(default_factory=dict)

    def of(self, clock: Clock) -> BusinessCalendar:
        return self.of_clocks.get(clock.calendar_id, self.policy)


def on_ticket_event(
    event: TicketEvent,
    current: Mapping[SlaTarget, Clock],
    *,
    policy: Policy,
    calendar: BusinessCalendar,
    now: datetime,
    clock_calendars: Mapping[str, BusinessCalendar] | None = None,
    facts_changed: bool = True,
) -> Reaction:
    """The clock changes a ticket event causes. `policy` is the one that covers the ticket now
    and `calendar` its calendar; `clock_calendars` are the calendars of the current clocks by id.
    Clocks move to `policy` only when `facts_changed` (priority, tier, category or team): a
    policy created or edited meanwhile applies to new clocks, or to running ones when asked."""
    calendars = Calendars(calendar, clock_calendars or {})
    reaction = Reaction()
    if isinstance(event, TicketCreated):
        _start(reaction, event, policy, calendar, now=now)
        return reaction
    live = {target: clock for target, clock in current.items() if clock.state not in clocks.STOPPED}
    if isinstance(event, TicketMerged | TicketArchived):
        reason = f"merged into {event.merged_into}" if isinstance(event, TicketMerged) else "archived"
        for clock in live.values():
            cancelled = clocks.cancel(clock, now=now, reason=reason)
            reaction.add(cancelled, _event(SlaClockCancelled, clock, now=now))
        _stop_breached(reaction, current, calendars, now=now)
        return reaction
    if facts_changed:
        live = _retargeted(reaction, live, current, event, policy, calendars, now=now)
    if isinstance(event, TicketInteractionAdded) and _is_public_reply(event):
        for target in (SlaTarget.FIRST_RESPONSE, SlaTarget.NEXT_RESPONSE):
            answered = live.get(target)
            if answered is not None:
                met = clocks.meet(answered, calendars.of(answered), now=now)
                reaction.add(met, _event(SlaMet, answered, now=now))
    elif isinstance(event, TicketInteractionAdded) and _is_customer_message(event):
        _await_next_response(reaction, event, current, policy, calendars.policy, now=now)
    if isinstance(event, TicketStatusChanged):
        _follow_status(reaction, event, current, live, policy, calendars, now=now)
    return reaction


def _start(
    reaction: Reaction, event: TicketCreated, policy: Policy, calendar: BusinessCalendar, *, now: datetime
) -> None:
    for target in (SlaTarget.FIRST_RESPONSE, SlaTarget.RESOLUTION):
        seconds = policy.target_seconds(target)
        if seconds is None:
            continue
        clock = _new_clock(event, target, seconds, policy, calendar, since=event.ticket.created_at)
        reaction.add(clock, _event(SlaClockStarted, clock, now=now))
        if event.ticket.status in policy.pause_statuses:
            paused = clocks.pause(
                clock, calendar, now=clock.started_at, reason=f"ticket {event.ticket.status.value}"
            )
            reaction.add(paused, _event(SlaClockPaused, clock, now=now))


def _new_clock(
    event: TicketEvent,
    target: SlaTarget,
    seconds: int,
    policy: Policy,
    calendar: BusinessCalendar,
    *,
    since: datetime,
) -> Clock:
    return clocks.start_clock(
        ticket_id=event.ticket_id,
        ref=event.ref,
        target=target,
        policy_id=policy.id,
        policy_version=policy.version,
        priority=event.ticket.priority,
        target_seconds=seconds,
        warning_fraction=policy.warning_fraction,
        calendar=calendar,
        now=since,
    )


def _retargeted(
    reaction: Reaction,
    live: dict[SlaTarget, Clock],
    current: Mapping[SlaTarget, Clock],
    event: TicketEvent,
    policy: Policy,
    calendars: Calendars,
    *,
    now: datetime,
) -> dict[SlaTarget, Clock]:
    """Clocks move to the ticket's policy now that its priority (or what chooses the policy)
    changed, keeping the business time counted. A target the policy lacks is cancelled; a
    resolution target it adds counts from the ticket's creation, as if it had always been set."""
    result = dict(live)
    for target, clock in live.items():
        seconds = policy.target_seconds(target)
        if seconds is None:
            cancelled = clocks.cancel(
                clock, now=now, reason=f"policy {policy.id} has no {target.value} target"
            )
            reaction.add(cancelled, _event(SlaClockCancelled, clock, now=now))
            del result[target]
            continue
        same = (clock.policy_id, clock.priority, clock.target_seconds) == (
            policy.id,
            event.ticket.priority,
            seconds,
        )
        if same:
            continue
        changed = clocks.retarget(
            clock,
            calendars.policy,
            counted_on=calendars.of(clock),
            target_seconds=seconds,
            priority=event.ticket.priority,
            policy_id=policy.id,
            policy_version=policy.version,
            now=now,
        )
        reaction.add(changed, _event(SlaClockRetargeted, changed, now=now))
        result[target] = changed
    resolution = policy.target_seconds(SlaTarget.RESOLUTION)
    finished = event.ticket.status in FINISHED
    if resolution is not None and SlaTarget.RESOLUTION not in current and not finished:
        added = _new_clock(
            event, SlaTarget.RESOLUTION, resolution, policy, calendars.policy, since=event.ticket.created_at
        )
        reaction.add(added, _event(SlaClockStarted, added, now=now))
        result[SlaTarget.RESOLUTION] = added
    return result


def _is_public_reply(event: TicketInteractionAdded) -> bool:
    return event.interaction.type is InteractionType.EMAIL_OUTBOUND


def _is_customer_message(event: TicketInteractionAdded) -> bool:
    """A message the customer wrote: not staff's, not an auto-reply, not an agent's or bot's chat line."""
    interaction = event.interaction
    return (
        interaction.type in CUSTOMER_MESSAGES
        and interaction.author_id is None
        and not interaction.auto_submitted
        and interaction.chat_role in (None, ChatAuthorRole.CUSTOMER)
    )


def _await_next_response(
    reaction: Reaction,
    event: TicketInteractionAdded,
    current: Mapping[SlaTarget, Clock],
    policy: Policy,
    calendar: BusinessCalendar,
    *,
    now: datetime,
) -> None:
    """A customer wrote after the first response: the next response is due within the policy's
    target. While one is already awaited, the oldest unanswered message keeps counting."""
    seconds = policy.target_seconds(SlaTarget.NEXT_RESPONSE)
    first = current.get(SlaTarget.FIRST_RESPONSE)
    awaited = current.get(SlaTarget.NEXT_RESPONSE)
    if seconds is None or first is None or first.state in {ClockState.RUNNING, ClockState.PAUSED}:
        return
    if awaited is not None and awaited.state not in clocks.STOPPED:
        return
    clock = _new_clock(
        event, SlaTarget.NEXT_RESPONSE, seconds, policy, calendar, since=event.interaction.created_at
    )
    if awaited is not None:  # the same stored clock starts over: a newer generation outdates old timers
        clock = replace(clock, generation=awaited.generation + 1)
    reaction.add(clock, _event(SlaClockStarted, clock, now=now))


def _follow_status(
    reaction: Reaction,
    event: TicketStatusChanged,
    current: Mapping[SlaTarget, Clock],
    live: dict[SlaTarget, Clock],
    policy: Policy,
    calendars: Calendars,
    *,
    now: datetime,
) -> None:
    to, came_from = event.to_status, event.from_status
    if to in FINISHED:
        _finish(reaction, current, live, calendars, now=now)
        return
    reopened = current.get(SlaTarget.RESOLUTION)
    if came_from in FINISHED and reopened is not None and reopened.state is ClockState.MET:
        live[SlaTarget.RESOLUTION] = _resume(reaction, reopened, calendars.of(reopened), now=now)
    if to in policy.pause_statuses:
        for clock in live.values():
            if clock.state is ClockState.RUNNING:
                paused = clocks.pause(clock, calendars.of(clock), now=now, reason=f"ticket {to.value}")
                reaction.add(paused, _event(SlaClockPaused, clock, now=now))
    else:
        for clock in live.values():
            if clock.state is ClockState.PAUSED:
                _resume(reaction, clock, calendars.of(clock), now=now)


def _finish(
    reaction: Reaction,
    current: Mapping[SlaTarget, Clock],
    live: dict[SlaTarget, Clock],
    calendars: Calendars,
    *,
    now: datetime,
) -> None:
    """Resolving meets the resolution target; a first response never given no longer applies."""
    for target, clock in live.items():
        if target is SlaTarget.RESOLUTION:
            met = clocks.meet(clock, calendars.of(clock), now=now)
            reaction.add(met, _event(SlaMet, clock, now=now))
        else:
            cancelled = clocks.cancel(clock, now=now, reason="resolved without this target")
            reaction.add(cancelled, _event(SlaClockCancelled, clock, now=now))
    _stop_breached(reaction, current, calendars, now=now)


def _stop_breached(
    reaction: Reaction, current: Mapping[SlaTarget, Clock], calendars: Calendars, *, now: datetime
) -> None:
    """The ticket is done: breached targets stop counting overdue time (silently: the breach
    was told when it happened)."""
    for clock in current.values():
        if clock.state is ClockState.BREACHED and clock.running_since is not None:
            reaction.clocks.append(clocks.stop_counting(clock, calendars.of(clock), now=now))


def _resume(reaction: Reaction, clock: Clock, calendar: BusinessCalendar, *, now: datetime) -> Clock:
    resumed = clocks.resume(clock, calendar, now=now)
    reaction.add(resumed, _event(SlaClockResumed, resumed, now=now))
    return resumed


def on_timer(clock: Clock, kind: TimerKind, *, generation: int, now: datetime) -> Reaction:
    """A due timer: warn or breach, once, and only for the clock generation it was set for."""
    reaction = Reaction()
    if clock.generation != generation or clock.state is not ClockState.RUNNING:
        return reaction
    if kind is TimerKind.BREACH:
        breached = clocks.breach(clock, now=now)
        reaction.add(breached, _event(SlaBreached, breached, now=now))
    elif not clock.warned:
        reaction.add(clocks.warn(clock, now=now), _event(SlaWarning, clock, now=now))
    return reaction


def on_policy_change(
    clock: Clock, policy: Policy, calendar: BusinessCalendar, *, counted_on: BusinessCalendar, now: datetime
) -> Reaction:
    """An administrator changed the clock's policy and asked running clocks to follow: the new
    target (and `calendar`) from now on, keeping the business time counted on `counted_on`."""
    reaction = Reaction()
    seconds = policy.target_seconds(clock.target)
    unchanged = seconds == clock.target_seconds and calendar.id == clock.calendar_id
    if clock.state in clocks.STOPPED or seconds is None or unchanged:
        return reaction
    changed = clocks.retarget(
        clock,
        calendar,
        counted_on=counted_on,
        target_seconds=seconds,
        priority=clock.priority,
        policy_id=policy.id,
        policy_version=policy.version,
        now=now,
    )
    reaction.add(changed, _event(SlaClockRetargeted, changed, now=now))
    return reaction


def on_calendar_change(
    clock: Clock, calendar: BusinessCalendar, *, previous: BusinessCalendar, now: datetime
) -> Reaction:
    """The clock's calendar was edited: what ran so far counts on the `previous` hours, and the
    due and warning instants follow the new ones."""
    reaction = Reaction()
    if clock.state is not ClockState.RUNNING:
        return reaction  # a paused clock is scheduled when it resumes, on the calendar of then
    changed = clocks.retarget(
        clock,
        calendar,
        counted_on=previous,
        target_seconds=clock.target_seconds,
        priority=clock.priority,
        policy_id=clock.policy_id,
        policy_version=clock.policy_version,
        now=now,
    )
    reaction.add(changed, _event(SlaClockRetargeted, changed, now=now))
    return reaction
