"""Pure ticket lifecycle rules: status transitions, agents' edits, replies, notes, customer
messages and what the sla service's clocks and timers do to a ticket. Every change is a `Step`:
the ticket after it, the event it publishes and what changed, so that the store can save, log and
publish it in one transaction. No IO here."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from ticketstream.contracts.events import (
    AttachmentRef,
    InteractionSummary,
    TicketAssigned,
    TicketCsatRecorded,
    TicketEvent,
    TicketInteractionAdded,
    TicketStatusChanged,
    TicketUpdated,
)
from ticketstream.contracts.models import (
    CUSTOMER_VISIBLE_INTERACTIONS,
    Csat,
    CustomFieldValue,
    DeliveryStatus,
    InteractionType,
    Person,
    Priority,
    TicketSnapshot,
    TicketStatus,
    TicketType,
)
from ticketstream_tickets.domain import DomainError, NewTicket, touch

ALLOWED_TRANSITIONS: dict[TicketStatus, frozenset[TicketStatus]] = {
    TicketStatus.OPEN: frozenset(
        {
            TicketStatus.IN_PROGRESS,
            TicketStatus.PENDING,
            TicketStatus.WAITING_ON_CUSTOMER,
            TicketStatus.RESOLVED,
            TicketStatus.CLOSED,
        }
    ),
    TicketStatus.IN_PROGRESS: frozenset(
        {
            TicketStatus.OPEN,
            TicketStatus.PENDING,
            TicketStatus.WAITING_ON_CUSTOMER,
            TicketStatus.RESOLVED,
            TicketStatus.CLOSED,
        }
    ),
    TicketStatus.PENDING: frozenset(
        {
            TicketStatus.OPEN,
            TicketStatus.IN_PROGRESS,
            TicketStatus.WAITING_ON_CUSTOMER,
            TicketStatus.RESOLVED,
            TicketStatus.CLOSED,
        }
    ),
    TicketStatus.WAITING_ON_CUSTOMER: frozenset(
        {
            TicketStatus.OPEN,
            TicketStatus.IN_PROGRESS,
            TicketStatus.PENDING,
            TicketStatus.RESOLVED,
            TicketStatus.CLOSED,
        }
    ),
    # A resolved ticket is reopened or confirmed closed; a closed one is final (a customer
    # writing again gets a linked follow-up ticket instead).
    TicketStatus.RESOLVED: frozenset({TicketStatus.OPEN, TicketStatus.IN_PROGRESS, TicketStatus.CLOSED}),
    TicketStatus.CLOSED: frozenset(),
}
SLA_ACTOR = "sla"
# The sla service stamps `waiting_since` when it reads the change into waiting, so it is at or
# after the ticket's own change, give or take the difference between the two hosts' clocks.
WAITING_CLOCK_SKEW = timedelta(minutes=1)
REOPENED_BY_CUSTOMER = frozenset({TicketStatus.RESOLVED, TicketStatus.WAITING_ON_CUSTOMER})
# A handle starts and ends with a letter or digit, so "@bob.smith." at a sentence end is bob.smith.
MENTION_PATTERN = re.compile(r"(?<![\w.])@([A-Za-z0-9](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9])?)")


class TransitionNotAllowedError(DomainError):
    code = "transition_not_allowed"

    def __init__(self, current: TicketStatus, wanted: TicketStatus) -> None:
        allowed = sorted(status.value for status in ALLOWED_TRANSITIONS[current])
        super().__init__(
            f"a {current.value} ticket cannot move to {wanted.value}",
            {"from": current.value, "to": wanted.value, "allowed": allowed},
        )


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: object
    after: object


@dataclass(frozen=True)
class Step:
    """One versioned change: the ticket after it, its event and what changed (for the log)."""

    ticket: TicketSnapshot
    event: TicketEvent
    changes: tuple[FieldChange, ...]


E = TypeVar("E", bound=TicketEvent)


def versioned(event_type: type[E], after: TicketSnapshot, *, actor: str, now: datetime, **details: Any) -> E:
    """The event of a change that made `after`: its id, ref, version and full snapshot."""
    return event_type(
        ticket_id=after.id,
        ref=after.ref,
        sequence=after.version,
        actor=actor,
        occurred_at=now,
        ticket=after,
        **details,
    )


def diff_fields(
    before: TicketSnapshot, after: TicketSnapshot, fields: Iterable[str]
) -> tuple[FieldChange, ...]:
    return tuple(
        FieldChange(name, getattr(before, name), getattr(after, name))
        for name in fields
        if getattr(before, name) != getattr(after, name)
    )


def status_step(
    ticket: TicketSnapshot,
    to: TicketStatus,
    *,
    actor: str,
    now: datetime,
    resolution_notes: str | None = None,
) -> Step:
    if to not in ALLOWED_TRANSITIONS[ticket.status]:
        raise TransitionNotAllowedError(ticket.status, to)
    update: dict[str, object] = {"status": to}
    if to is TicketStatus.RESOLVED:
        update["resolved_at"] = now
        if resolution_notes is not None:
            update["resolution_notes"] = resolution_notes
    elif to is TicketStatus.CLOSED:
        update["closed_at"] = now
    elif ticket.status in {TicketStatus.RESOLVED, TicketStatus.CLOSED}:
        # Reopened: the next resolution is stamped afresh; the old one stays in the activity log.
        update["resolved_at"] = None
        update["resolution_notes"] = None
    after = touch(ticket.model_copy(update=update), now=now)
    event = versioned(
        TicketStatusChanged,
        after,
        actor=actor,
        now=now,
        from_status=ticket.status,
        to_status=to,
    )
    return Step(
        after, event, diff_fields(ticket, after, ("status", "resolved_at", "closed_at", "resolution_notes"))
    )


@dataclass(frozen=True)
class TicketPatch:
    """Fields an agent may change; None means 'leave as it is'."""

    title: str | None = None
    description: str | None = None
    status: TicketStatus | None = None
    priority: Priority | None = None
    type: TicketType | None = None
    category: str | None = None
    tags: tuple[str, ...] | None = None
    assignee_ids: tuple[str, ...] | None = None
    assigned_team: str | None = None
    resolution_notes: str | None = None
    assignment_reason: str | None = None
    custom_fields: Mapping[str, CustomFieldValue | None] | None = None  # a key set to None is cleared


UPDATABLE_FIELDS = ("title", "description", "priority", "type", "category", "tags", "resolution_notes")


def apply_patch(ticket: TicketSnapshot, patch: TicketPatch, *, actor: str, now: datetime) -> list[Step]:
    """The versioned steps of an agent's edit: field updates, assignment, then status."""
    resolving = patch.status is TicketStatus.RESOLVED and ticket.status is not TicketStatus.RESOLVED
    if patch.resolution_notes is not None and not resolving and ticket.status is not TicketStatus.RESOLVED:
        raise DomainError("resolution notes go with resolving the ticket (status RESOLVED)")
    steps: list[Step] = []
    current = ticket
    updates: dict[str, object] = {
        name: (sorted(set(value)) if name == "tags" else value)
        for name in UPDATABLE_FIELDS
        if (value := getattr(patch, name)) is not None and not (name == "resolution_notes" and resolving)
    }
    if patch.custom_fields is not None:
        updates["custom_fields"] = merged_custom_fields(current.custom_fields, patch.custom_fields)
    changed = {name: value for name, value in updates.items() if getattr(current, name) != value}
    if changed:
        after = touch(current.model_copy(update=changed), now=now)
        event = versioned(
            TicketUpdated,
            after,
            actor=actor,
            now=now,
            changed_fields=sorted(changed),
        )
        steps.append(Step(after, event, diff_fields(current, after, sorted(changed))))
        current = after
    assignment: dict[str, object] = {}
    if patch.assignee_ids is not None and sorted(set(patch.assignee_ids)) != current.assignee_ids:
        assignment["assignee_ids"] = sorted(set(patch.assignee_ids))
    if patch.assigned_team is not None and patch.assigned_team != current.assigned_team:
        assignment["assigned_team"] = patch.assigned_team
    if assignment:
        after = touch(current.model_copy(update=assignment), now=now)
        assigned = versioned(
            TicketAssigned,
            after,
            actor=actor,
            now=now,
            previous_assignee_ids=current.assignee_ids,
            reason=patch.assignment_reason,
        )
        changes = diff_fields(current, after, ("assignee_ids", "assigned_team"))
        if patch.assignment_reason:
            changes = (*changes, FieldChange("assignment_reason", None, patch.assignment_reason))
        steps.append(Step(after, assigned, changes))
        current = after
    if patch.status is not None and patch.status is not current.status:
        steps.append(
            status_step(current, patch.status, actor=actor, now=now, resolution_notes=patch.resolution_notes)
        )
    return steps


def merged_custom_fields(
    current: Mapping[str, CustomFieldValue], changes: Mapping[str, CustomFieldValue | None]
) -> dict[str, CustomFieldValue]:
    """A partial update of custom fields: keys set to None are cleared, the others replaced."""
    result = dict(current)
    for key, value in changes.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return result


def interaction_step(
    ticket: TicketSnapshot,
    interaction: InteractionSummary,
    *,
    actor: str,
    now: datetime,
    update: Mapping[str, object] | None = None,
) -> Step:
    after = touch(ticket.model_copy(update=dict(update or {})), now=now)
    event = versioned(
        TicketInteractionAdded,
        after,
        actor=actor,
        now=now,
        interaction=interaction,
    )
    changes = (
        FieldChange("interactions", None, interaction.type.value),
        *diff_fields(ticket, after, update or {}),
    )
    return Step(after, event, changes)


def reply_subject(ticket: TicketSnapshot) -> str:
    return f"[{ticket.ref}] {ticket.title}"


def public_reply(
    ticket: TicketSnapshot,
    *,
    body: str,
    author: Person,
    author_id: str,
    interaction_id: str,
    message_domain: str,
    thread: list[str],
    now: datetime,
    attachments: Sequence[AttachmentRef] = (),
) -> list[Step]:
    """An agent's public reply: an outbound email in the ticket's thread.

    The first one stamps first_response_at and moves an OPEN ticket to IN_PROGRESS.
    """
    if ticket.status is TicketStatus.CLOSED:
        raise DomainError(f"{ticket.ref} is closed; open a follow-up ticket instead")
    if ticket.requester is None:
        raise DomainError(f"{ticket.ref} has no requester to reply to")
    interaction = InteractionSummary(
        id=interaction_id,
        type=InteractionType.EMAIL_OUTBOUND,
        customer_visible=True,
        author=author,
        author_id=author_id,
        body_text=body,
        message_id=f"<{interaction_id}@{message_domain}>",
        subject=reply_subject(ticket),
        in_reply_to=thread[-1] if thread else None,
        references=thread,
        recipients=[ticket.requester.email],
        attachments=list(attachments),
        delivery_status=DeliveryStatus.SENDING,
        created_at=now,
    )
    first_response = {"first_response_at": now} if ticket.first_response_at is None else {}
    steps = [interaction_step(ticket, interaction, actor=author_id, now=now, update=first_response)]
    if steps[-1].ticket.status is TicketStatus.OPEN:
        steps.append(status_step(steps[-1].ticket, TicketStatus.IN_PROGRESS, actor=author_id, now=now))
    return steps


def mentions_in(text: str) -> list[str]:
    return sorted({match.lower() for match in MENTION_PATTERN.findall(text)})


def internal_note(
    ticket: TicketSnapshot,
    *,
    body: str,
    author: Person,
    author_id: str,
    interaction_id: str,
    now: datetime,
    attachments: Sequence[AttachmentRef] = (),
) -> list[Step]:
    """A staff-only note; @handles in it become mentions."""
    interaction = InteractionSummary(
        id=interaction_id,
        type=InteractionType.INTERNAL_NOTE,
        customer_visible=False,
        author=author,
        author_id=author_id,
        body_text=body,
        mentions=mentions_in(body),
        attachments=list(attachments),
        created_at=now,
    )
    return [interaction_step(ticket, interaction, actor=author_id, now=now)]


@dataclass(frozen=True)
class LoggedContact:
    """Something that happened outside the help desk, recorded by an agent: a call, a meeting,
    an SMS exchange or a plain note. Only an SMS is shown to the customer."""

    type: InteractionType
    body: str
    occurred_at: datetime
    duration_minutes: int | None = None
    attachments: Sequence[AttachmentRef] = ()


LOGGABLE = frozenset(
    {InteractionType.PHONE_CALL, InteractionType.MEETING, InteractionType.SMS, InteractionType.NOTE}
)


def logged_contact(
    ticket: TicketSnapshot,
    contact: LoggedContact,
    *,
    author: Person,
    author_id: str,
    interaction_id: str,
    now: datetime,
) -> list[Step]:
    if contact.type not in LOGGABLE:
        raise DomainError(
            f"{contact.type.value} is not logged by hand",
            {"allowed": sorted(kind.value for kind in LOGGABLE)},
        )
    if contact.occurred_at > now:
        raise DomainError("a logged contact cannot have happened in the future")
    interaction = InteractionSummary(
        id=interaction_id,
        type=contact.type,
        customer_visible=contact.type in CUSTOMER_VISIBLE_INTERACTIONS,
        author=author,
        author_id=author_id,
        body_text=contact.body,
        duration_minutes=contact.duration_minutes,
        attachments=list(contact.attachments),
        created_at=contact.occurred_at,
    )
    return [interaction_step(ticket, interaction, actor=author_id, now=now)]


def customer_message(
    ticket: TicketSnapshot, interaction: InteractionSummary, *, actor: str, now: datetime
) -> list[Step]:
    """A customer wrote on the ticket: a resolved or waiting ticket reopens."""
    steps = [interaction_step(ticket, interaction, actor=actor, now=now)]
    if ticket.status in REOPENED_BY_CUSTOMER:
        steps.append(status_step(steps[-1].ticket, TicketStatus.OPEN, actor=actor, now=now))
    return steps


def inbound_messages(
    ticket: TicketSnapshot,
    interactions: Sequence[InteractionSummary],
    *,
    counts_as_reply: bool,
    actor: str,
    now: datetime,
) -> list[Step]:
    """An inbound message threaded onto the ticket, logged with why it landed here.

    The customer's reply reopens a resolved or waiting ticket. An auto-reply (`counts_as_reply`
    False: out-of-office, list mail) is recorded and changes nothing else, whatever the status.
    """
    steps: list[Step] = []
    current = ticket
    for interaction in interactions:
        step = interaction_step(current, interaction, actor=actor, now=now)
        if interaction.threading_reason:
            why = FieldChange("threading_reason", None, interaction.threading_reason)
            step = replace(step, changes=(*step.changes, why))
        steps.append(step)
        current = step.ticket
    if counts_as_reply and steps and ticket.status in REOPENED_BY_CUSTOMER:
        steps.append(status_step(current, TicketStatus.OPEN, actor=actor, now=now))
    return steps


def follow_up_of(closed: TicketSnapshot, request: NewTicket) -> NewTicket:
    """A closed ticket is never reopened: the customer's new message opens a linked ticket."""
    return replace(
        request,
        follow_up_of=closed.ref,
        priority=closed.priority,
        category=closed.category,
        assigned_team=closed.assigned_team,
    )


def system_note(*, text: str, interaction_id: str, now: datetime) -> InteractionSummary:
    return InteractionSummary(
        id=interaction_id, type=InteractionType.SYSTEM, customer_visible=False, body_text=text, created_at=now
    )


def waiting_auto_close(
    ticket: TicketSnapshot,
    *,
    waiting_since: datetime,
    status_changed_at: datetime,
    note_id: str,
    now: datetime,
) -> list[Step]:
    """Close a ticket whose customer stayed silent through the waiting period after the check-in,
    with a staff-only system note saying why.

    Nothing happens unless the ticket is still in the waiting period the sla service counted from
    `waiting_since`: one that left waiting, or left and started waiting again later (its last
    status change, `status_changed_at`, is after that), is left as it is.
    """
    if ticket.status is not TicketStatus.WAITING_ON_CUSTOMER:
        return []
    if status_changed_at > waiting_since + WAITING_CLOCK_SKEW:
        return []
    closing = status_step(ticket, TicketStatus.CLOSED, actor=SLA_ACTOR, now=now)
    since = waiting_since.astimezone(UTC)
    note = system_note(
        text=(
            f"Closed automatically: the ticket was waiting on the customer since {since:%Y-%m-%d %H:%M} UTC "
            "and the customer did not reply within the waiting period after the check-in."
        ),
        interaction_id=note_id,
        now=now,
    )
    return [closing, interaction_step(closing.ticket, note, actor=SLA_ACTOR, now=now)]


def portal_message(*, body: str, author: Person, interaction_id: str, now: datetime) -> InteractionSummary:
    return InteractionSummary(
        id=interaction_id,
        type=InteractionType.PORTAL_MESSAGE,
        customer_visible=True,
        author=author,
        body_text=body,
        created_at=now,
    )


def sla_stamp(
    ticket: TicketSnapshot,
    *,
    now: datetime,
    due_date: datetime | None = None,
    due_is_resolution: bool = False,
    breached_at: datetime | None = None,
) -> list[Step]:
    """Stamp what the sla service computed: the due date (the resolution target's, or the first
    response's while no resolution target is known) and the first breach."""
    update: dict[str, object] = {}
    if (
        due_date is not None
        and (due_is_resolution or ticket.due_date is None)
        and ticket.due_date != due_date
    ):
        update["due_date"] = due_date
    if breached_at is not None and ticket.sla_breach_at is None:
        update["sla_breach_at"] = breached_at
    if not update:
        return []
    after = touch(ticket.model_copy(update=update), now=now)
    event = versioned(
        TicketUpdated,
        after,
        actor=SLA_ACTOR,
        now=now,
        changed_fields=sorted(update),
    )
    return [Step(after, event, diff_fields(ticket, after, sorted(update)))]


def csat_form(
    ticket_id: str, csat: Csat, *, submitted_by: Person | None, submitted_at: datetime
) -> InteractionSummary:
    """The survey answer as a staff-only FORM_SUBMISSION; one per ticket, so its id is derived."""
    comment = f"\n{csat.comment}" if csat.comment else ""
    return InteractionSummary(
        id=f"csat-{ticket_id}",
        type=InteractionType.FORM_SUBMISSION,
        customer_visible=False,
        author=submitted_by,
        body_text=f"Satisfaction survey: {csat.score}/5{comment}",
        created_at=submitted_at,
    )


def csat_recorded(ticket: TicketSnapshot, csat: Csat, *, actor: str, now: datetime) -> list[Step]:
    """Record (or update: a customer may change their answer) the ticket's satisfaction score."""
    if ticket.csat == csat:
        return []
    after = touch(ticket.model_copy(update={"csat": csat}), now=now)
    event = versioned(TicketCsatRecorded, after, actor=actor, now=now, csat=csat)
    change = FieldChange(
        "csat",
        ticket.csat.model_dump() if ticket.csat else None,
        csat.model_dump(),
    )
    return [Step(after, event, (change,))]
