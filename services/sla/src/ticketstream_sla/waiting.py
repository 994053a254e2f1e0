"""Timed automations of a ticket waiting on its customer. No IO here.

When a ticket goes WAITING_ON_CUSTOMER a quiet period starts: at its end a reminder is due
(notify sends the check-in), and a further period later an auto-close is due (tickets closes the
ticket with a system note). Any change that takes the ticket out of waiting (the customer's
reply reopens it) ends the automation, so nothing more fires.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from ticketstream.contracts.events import (
    SlaWaitingAutoCloseDue,
    SlaWaitingEvent,
    SlaWaitingReminderDue,
    TicketArchived,
    TicketCreated,
    TicketEvent,
    TicketMerged,
    TicketStatusChanged,
)
from ticketstream.contracts.models import TicketStatus
from ticketstream_sla.timers import Timer, TimerKind, TimerSubject


@dataclass(frozen=True)
class QuietPeriods:
    """Both zero-or-positive; a zero reminder period turns the automation off."""

    reminder_after: timedelta
    close_after: timedelta

    @property
    def enabled(self) -> bool:
        return self.reminder_after > timedelta()


@dataclass(frozen=True)
class Waiting:
    ticket_id: str
    ref: str
    since: datetime
    remind_at: datetime
    close_at: datetime
    reminded: bool = False
    done: bool = False
    generation: int = 1

    def timer(self) -> Timer | None:
        if self.done:
            return None
        kind, at = (
            (TimerKind.AUTO_CLOSE, self.close_at) if self.reminded else (TimerKind.REMINDER, self.remind_at)
        )
        return Timer(TimerSubject.WAITING, self.ticket_id, self.ticket_id, kind, at, self.generation)


def on_ticket_event(
    event: TicketEvent, current: Waiting | None, *, periods: QuietPeriods, now: datetime
) -> Waiting | None:
    """The waiting state after the event: started, ended (done) or unchanged (the same object)."""
    waits = TicketStatus.WAITING_ON_CUSTOMER
    entered = (isinstance(event, TicketStatusChanged) and event.to_status is waits) or (
        isinstance(event, TicketCreated) and event.ticket.status is waits
    )
    if entered:
        if not periods.enabled:
            return current
        remind_at = now + periods.reminder_after
        generation = current.generation + 1 if current is not None else 1
        return Waiting(
            ticket_id=event.ticket_id,
            ref=event.ref,
            since=now,
            remind_at=remind_at,
            close_at=remind_at + periods.close_after,
            generation=generation,
        )
    left_waiting = isinstance(event, TicketMerged | TicketArchived) or (
        event.ticket.status is not TicketStatus.WAITING_ON_CUSTOMER
    )
    if current is not None and not current.done and left_waiting:
        return replace(current, done=True, generation=current.generation + 1)
    return current


def on_timer(
    current: Waiting, kind: TimerKind, *, generation: int, now: datetime
) -> tuple[Waiting, SlaWaitingEvent] | None:
    """The reminder or the auto-close, once, for the waiting period the timer was set for."""
    if current.done or current.generation != generation:
        return None
    if kind is TimerKind.REMINDER and not current.reminded:
        reminded = replace(current, reminded=True)
        return reminded, SlaWaitingReminderDue(
            ticket_id=current.ticket_id,
            ref=current.ref,
            waiting_since=current.since,
            close_at=current.close_at,
            occurred_at=now,
        )
    if kind is TimerKind.AUTO_CLOSE and current.reminded:
        closed = replace(current, done=True)
        return closed, SlaWaitingAutoCloseDue(
            ticket_id=current.ticket_id, ref=current.ref, waiting_since=current.since, occurred_at=now
        )
    return None
