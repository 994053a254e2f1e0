"""Pure rules of the bigger ticket actions: escalate, merge, split, archive. No IO here.

Like lifecycle.py, each returns the versioned `Step`s the store saves, logs and publishes.
"""

from __future__ import annotations

from datetime import datetime

from ticketstream.contracts.events import (
    InteractionSummary,
    TicketArchived,
    TicketEscalated,
    TicketMerged,
    TicketSplit,
    TicketUpdated,
)
from ticketstream.contracts.models import InteractionType, Priority, TicketSnapshot, TicketStatus
from ticketstream_tickets.domain import DomainError, NewTicket, title_from_subject, touch
from ticketstream_tickets.lifecycle import Step, diff_fields, status_step, system_note, versioned

MAX_ESCALATION_LEVEL = 2
ESCALATION_TIERS = {0: "member", 1: "team lead", 2: "manager"}
ARCHIVABLE = frozenset({TicketStatus.RESOLVED, TicketStatus.CLOSED})


def escalate(
    ticket: TicketSnapshot, *, reason: str, actor: str, now: datetime, to_level: int | None = None
) -> list[Step]:
    """Move up the tiers member → team lead → manager; the ticket becomes URGENT."""
    target = ticket.escalation_level + 1 if to_level is None else to_level
    if ticket.status is TicketStatus.CLOSED or ticket.merged_into:
        raise DomainError(f"{ticket.ref} is closed; it cannot be escalated")
    if target > MAX_ESCALATION_LEVEL:
        raise DomainError(f"{ticket.ref} is already escalated to a manager, the highest tier")
    if target <= ticket.escalation_level:
        raise DomainError(
            f"{ticket.ref} is at tier {ESCALATION_TIERS[ticket.escalation_level]}; escalation only goes up",
            {"current_level": ticket.escalation_level},
        )
    after = touch(
        ticket.model_copy(update={"escalation_level": target, "priority": Priority.URGENT}), now=now
    )
    event = versioned(
        TicketEscalated,
        after,
        actor=actor,
        now=now,
        from_level=ticket.escalation_level,
        to_level=target,
        reason=reason,
        previous_priority=ticket.priority,
        seconds_since_created=max(int((now - ticket.created_at).total_seconds()), 0),
    )
    return [Step(after, event, diff_fields(ticket, after, ("escalation_level", "priority")))]


def archive(ticket: TicketSnapshot, *, actor: str, now: datetime) -> list[Step]:
    if ticket.archived:
        return []
    if ticket.status not in ARCHIVABLE:
        raise DomainError(
            f"only resolved or closed tickets are archived; {ticket.ref} is {ticket.status.value}"
        )
    after = touch(ticket.model_copy(update={"archived": True}), now=now)
    event = versioned(TicketArchived, after, actor=actor, now=now)
    return [Step(after, event, diff_fields(ticket, after, ("archived",)))]


def check_mergeable(duplicate: TicketSnapshot, target: TicketSnapshot) -> None:
    if duplicate.id == target.id:
        raise DomainError("a ticket cannot be merged into itself")
    for ticket in (duplicate, target):
        if ticket.merged_into:
            raise DomainError(f"{ticket.ref} was already merged into {ticket.merged_into}")
    if target.status is TicketStatus.CLOSED:
        raise DomainError(f"{target.ref} is closed; merge into an open ticket")


def merge(
    duplicate: TicketSnapshot, target: TicketSnapshot, *, actor: str, now: datetime, note_ids: tuple[str, str]
) -> tuple[list[Step], list[Step], tuple[InteractionSummary, InteractionSummary]]:
    """The duplicate is closed with a system note and `merged_into`; its contacts join the target.

    Returns the duplicate's steps, the target's steps and the two system notes (duplicate, target).
    """
    check_mergeable(duplicate, target)
    duplicate_note = system_note(
        text=f"Merged into {target.ref} by {actor}; its messages are there now.",
        interaction_id=note_ids[0],
        now=now,
    )
    target_note = system_note(
        text=f"{duplicate.ref} was merged into this ticket by {actor}.", interaction_id=note_ids[1], now=now
    )
    closing: list[Step] = []
    if duplicate.status is not TicketStatus.CLOSED:
        closing = [status_step(duplicate, TicketStatus.CLOSED, actor=actor, now=now)]
    closed = closing[-1].ticket if closing else duplicate
    merged = touch(closed.model_copy(update={"merged_into": target.ref}), now=now)
    merged_event = versioned(
        TicketMerged,
        merged,
        actor=actor,
        now=now,
        merged_into=target.ref,
    )
    duplicate_steps = [*closing, Step(merged, merged_event, diff_fields(closed, merged, ("merged_into",)))]

    contacts = sorted(set(target.contact_ids) | set(duplicate.contact_ids))
    grown = touch(target.model_copy(update={"contact_ids": contacts}), now=now)
    grown_event = versioned(
        TicketUpdated,
        grown,
        actor=actor,
        now=now,
        changed_fields=["contact_ids", "interactions"],
    )
    target_steps = [Step(grown, grown_event, diff_fields(target, grown, ("contact_ids",)))]
    return duplicate_steps, target_steps, (duplicate_note, target_note)


def split(
    original: TicketSnapshot,
    interaction: InteractionSummary,
    *,
    title: str | None,
) -> NewTicket:
    """The request for the new ticket an interaction becomes (same requester, team, priority)."""
    if original.merged_into:
        raise DomainError(f"{original.ref} was merged into {original.merged_into}; split that ticket instead")
    if interaction.type is InteractionType.SYSTEM:
        raise DomainError("system entries cannot be split into a ticket")
    return NewTicket(
        title=title_from_subject(title or interaction.subject or f"Split from {original.ref}"),
        description=interaction.body_text,
        source=original.source,
        requester=original.requester,
        priority=original.priority,
        type=original.type,
        category=original.category,
        tags=tuple(original.tags),
        assigned_team=original.assigned_team,
        split_from=original.ref,
    )


def split_step(
    original: TicketSnapshot, *, new_ticket: TicketSnapshot, actor: str, now: datetime
) -> list[Step]:
    after = touch(original, now=now)
    event = versioned(
        TicketSplit,
        after,
        actor=actor,
        now=now,
        new_ticket_id=new_ticket.id,
        new_ref=new_ticket.ref,
    )
    return [Step(after, event, ())]
