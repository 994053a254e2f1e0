"""How the sla service's values are kept in its database: one function each way per value."""

from __future__ import annotations

from datetime import date
from typing import Any

from ticketstream.contracts.events import SlaTarget
from ticketstream.contracts.models import Priority, TicketStatus
from ticketstream.db import Document
from ticketstream_sla.business_hours import Shift
from ticketstream_sla.calendars import CalendarSpec, wall_time
from ticketstream_sla.clocks import Clock, ClockChange, ClockState
from ticketstream_sla.policies import Policy
from ticketstream_sla.timers import Timer, TimerKind, TimerSubject
from ticketstream_sla.waiting import Waiting


def clock_document(clock: Clock, **ticket_facts: Any) -> Document:
    return {
        "_id": clock.id,
        "ticket_id": clock.ticket_id,
        "ref": clock.ref,
        "target": clock.target.value,
        "policy_id": clock.policy_id,
        "policy_version": clock.policy_version,
        "calendar_id": clock.calendar_id,
        "priority": clock.priority.value,
        "target_seconds": clock.target_seconds,
        "warning_fraction": clock.warning_fraction,
        "started_at": clock.started_at,
        "state": clock.state.value,
        "counted_seconds": clock.counted_seconds,
        "running_since": clock.running_since,
        "due_at": clock.due_at,
        "warning_at": clock.warning_at,
        "warned": clock.warned,
        "breached_at": clock.breached_at,
        "stopped_at": clock.stopped_at,
        "generation": clock.generation,
        "history": [{"at": c.at, "change": c.change, "detail": c.detail} for c in clock.history],
        **ticket_facts,
    }


def clock_of(document: Document) -> Clock:
    return Clock(
        ticket_id=document["ticket_id"],
        ref=document["ref"],
        target=SlaTarget(document["target"]),
        policy_id=document["policy_id"],
        policy_version=document["policy_version"],
        calendar_id=document["calendar_id"],
        priority=Priority(document["priority"]),
        target_seconds=document["target_seconds"],
        warning_fraction=document["warning_fraction"],
        started_at=document["started_at"],
        state=ClockState(document["state"]),
        counted_seconds=document["counted_seconds"],
        running_since=document["running_since"],
        due_at=document["due_at"],
        warning_at=document["warning_at"],
        warned=document["warned"],
        breached_at=document["breached_at"],
        stopped_at=document["stopped_at"],
        generation=document["generation"],
        history=tuple(ClockChange(c["at"], c["change"], c["detail"]) for c in document["history"]),
    )


def timer_document(timer: Timer, *, shard: int) -> Document:
    return {
        "_id": timer.id,
        "subject": timer.subject.value,
        "subject_id": timer.subject_id,
        "ticket_id": timer.ticket_id,
        "kind": timer.kind.value,
        "at": timer.at,
        "generation": timer.generation,
        "shard": shard,
    }


def timer_of(document: Document) -> Timer:
    return Timer(
        subject=TimerSubject(document["subject"]),
        subject_id=document["subject_id"],
        ticket_id=document["ticket_id"],
        kind=TimerKind(document["kind"]),
        at=document["at"],
        generation=document["generation"],
    )


def waiting_document(waiting: Waiting) -> Document:
    return {
        "since": waiting.since,
        "remind_at": waiting.remind_at,
        "close_at": waiting.close_at,
        "reminded": waiting.reminded,
        "done": waiting.done,
        "generation": waiting.generation,
    }


def waiting_of(ticket: Document) -> Waiting | None:
    document = ticket.get("waiting")
    if document is None:
        return None
    return Waiting(ticket_id=ticket["_id"], ref=ticket["ref"], **document)


def policy_document(policy: Policy) -> Document:
    return {
        "_id": policy.id,
        "name": policy.name,
        "priority": policy.priority.value,
        "first_response_seconds": policy.first_response_seconds,
        "resolution_seconds": policy.resolution_seconds,
        "next_response_seconds": policy.next_response_seconds,
        "customer_tier": policy.customer_tier,
        "category": policy.category,
        "team": policy.team,
        "calendar_id": policy.calendar_id,
        "warning_fraction": policy.warning_fraction,
        "pause_statuses": sorted(status.value for status in policy.pause_statuses),
        "enabled": policy.enabled,
        "version": policy.version,
    }


def policy_of(document: Document) -> Policy:
    fields = {key: value for key, value in document.items() if key not in {"_id", "policy_id", "saved_at"}}
    return Policy(
        **{
            **fields,
            "id": document.get("policy_id", document["_id"]),
            "priority": Priority(document["priority"]),
            "pause_statuses": frozenset(TicketStatus(status) for status in document["pause_statuses"]),
        }
    )


def calendar_document(spec: CalendarSpec) -> Document:
    return {
        "_id": spec.id,
        "name": spec.name,
        "time_zone": spec.time_zone,
        "twenty_four_seven": spec.twenty_four_seven,
        "shifts": [
            {
                "weekday": shift.weekday,
                "start": shift.start.isoformat("minutes"),
                "end": shift.end.isoformat("minutes"),
            }
            for shift in spec.shifts
        ],
        "holidays": sorted(day.isoformat() for day in spec.holidays),
        "country": spec.country,
        "subdivision": spec.subdivision,
        "version": spec.version,
    }


def calendar_spec_of(document: Document) -> CalendarSpec:
    return CalendarSpec(
        id=document["_id"],
        name=document["name"],
        time_zone=document["time_zone"],
        twenty_four_seven=document["twenty_four_seven"],
        shifts=tuple(
            Shift(shift["weekday"], wall_time(shift["start"]), wall_time(shift["end"]))
            for shift in document["shifts"]
        ),
        holidays=frozenset(date.fromisoformat(day) for day in document["holidays"]),
        country=document["country"],
        subdivision=document["subdivision"],
        version=document["version"],
    )
