"""Unit tests of the ticket lifecycle: transitions, agent edits, replies, notes and who sees what.

Pure: every test builds its own tickets in memory and passes the time in; nothing reads the clock.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from ticketstream.contracts.events import (
    InteractionSummary,
    TicketAssigned,
    TicketInteractionAdded,
    TicketStatusChanged,
    TicketUpdated,
)
from ticketstream.contracts.models import (
    Csat,
    DeliveryStatus,
    InteractionType,
    Person,
    Priority,
    Source,
    TicketSnapshot,
    TicketStatus,
    TicketType,
)
from ticketstream_tickets import domain, lifecycle
from ticketstream_tickets.lifecycle import FieldChange

CREATED_AT = datetime(2026, 3, 2, 8, 0, 0, tzinfo=UTC)
EARLIER = datetime(2026, 3, 2, 8, 45, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 2, 9, 30, 15, tzinfo=UTC)
LATER = NOW + timedelta(hours=3)
TITLE = "Invoice shows the wrong VAT rate"
MESSAGE_DOMAIN = "help.example.test"

OPEN = TicketStatus.OPEN
IN_PROGRESS = TicketStatus.IN_PROGRESS
PENDING = TicketStatus.PENDING
WAITING = TicketStatus.WAITING_ON_CUSTOMER
RESOLVED = TicketStatus.RESOLVED
CLOSED = TicketStatus.CLOSED

# Written out by hand, not derived from the module, so a changed rule fails here.
EXPECTED_TARGETS: dict[TicketStatus, frozenset[TicketStatus]] = {
    OPEN: frozenset({IN_PROGRESS, PENDING, WAITING, RESOLVED, CLOSED}),
    IN_PROGRESS: frozenset({OPEN, PENDING, WAITING, RESOLVED, CLOSED}),
    PENDING: frozenset({OPEN, IN_PROGRESS, WAITING, RESOLVED, CLOSED}),
    WAITING: frozenset({OPEN, IN_PROGRESS, PENDING, RESOLVED, CLOSED}),
    RESOLVED: frozenset({OPEN, IN_PROGRESS, CLOSED}),
    CLOSED: frozenset(),
}
ALLOWED_PAIRS = [
    (start, end) for start in TicketStatus for end in TicketStatus if end in EXPECTED_TARGETS[start]
]
FORBIDDEN_PAIRS = [
    (start, end)
    for start in TicketStatus
    for end in TicketStatus
    if end is not start and end not in EXPECTED_TARGETS[start]
]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def unique_person(name: str) -> Person:
    return Person(email=f"{unique(name.split(maxsplit=1)[0].lower())}@example.test", name=name)


def make_ticket(*, requester: Person | None = None, **update: object) -> TicketSnapshot:
    """An OPEN ticket TKT-0001 opened at CREATED_AT, then given `update` (status, fields, ...)."""
    request = domain.NewTicket(
        title=TITLE,
        description="The March invoice charges 25% instead of 19%.",
        source=Source.EMAIL,
        requester=requester if requester is not None else unique_person("Casey Customer"),
        tags=("billing",),
        email_thread_id=f"<{unique('root')}@mail.example.test>",
    )
    ticket = domain.open_ticket(
        request, ticket_id=unique("tkt"), number=1, customer_id=unique("cus"), now=CREATED_AT
    )
    return ticket.model_copy(update=update)


def ticket_in(status: TicketStatus, **update: object) -> TicketSnapshot:
    """A ticket already in `status`, with the stamps that status implies."""
    stamps: dict[str, object] = {"status": status}
    if status in {RESOLVED, CLOSED}:
        stamps["resolved_at"] = EARLIER
    if status is CLOSED:
        stamps["closed_at"] = EARLIER
    return make_ticket(**stamps, **update)


# --- the state machine ------------------------------------------------------------------------


def test_allowed_transitions_are_exactly_the_documented_table() -> None:
    assert lifecycle.ALLOWED_TRANSITIONS == EXPECTED_TARGETS


def test_no_status_lists_itself_as_a_target() -> None:
    assert [status for status, targets in lifecycle.ALLOWED_TRANSITIONS.items() if status in targets] == []


def test_closed_allows_nothing_and_resolved_only_reopens_or_closes() -> None:
    assert lifecycle.ALLOWED_TRANSITIONS[CLOSED] == frozenset()
    assert lifecycle.ALLOWED_TRANSITIONS[RESOLVED] == frozenset({OPEN, IN_PROGRESS, CLOSED})


@pytest.mark.parametrize(("start", "end"), ALLOWED_PAIRS, ids=lambda status: status.value)
def test_allowed_transition_is_one_status_changed_step(start: TicketStatus, end: TicketStatus) -> None:
    ticket = ticket_in(start, version=3)
    actor = unique("agent")

    steps = lifecycle.apply_patch(ticket, lifecycle.TicketPatch(status=end), actor=actor, now=NOW)

    assert len(steps) == 1
    step = steps[0]
    assert isinstance(step.event, TicketStatusChanged)
    assert (step.event.from_status, step.event.to_status) == (start, end)
    assert step.ticket.status is end
    assert step.ticket.version == 4
    assert step.ticket.updated_at == NOW
    assert step.event.sequence == 4
    assert step.event.actor == actor
    assert step.event.occurred_at == NOW
    assert step.event.ticket == step.ticket
    assert step.changes[0] == FieldChange("status", start, end)


@pytest.mark.parametrize(("start", "end"), FORBIDDEN_PAIRS, ids=lambda status: status.value)
def test_forbidden_transition_raises_with_the_allowed_targets(start: TicketStatus, end: TicketStatus) -> None:
    ticket = ticket_in(start)

    with pytest.raises(lifecycle.TransitionNotAllowedError) as caught:
        lifecycle.apply_patch(ticket, lifecycle.TicketPatch(status=end), actor=unique("agent"), now=NOW)

    assert caught.value.code == "transition_not_allowed"
    assert caught.value.details == {
        "from": start.value,
        "to": end.value,
        "allowed": sorted(status.value for status in EXPECTED_TARGETS[start]),
    }
    assert str(caught.value) == f"a {start.value} ticket cannot move to {end.value}"


def test_forbidden_transition_from_resolved_lists_its_three_targets_sorted() -> None:
    with pytest.raises(lifecycle.TransitionNotAllowedError) as caught:
        lifecycle.apply_patch(ticket_in(RESOLVED), lifecycle.TicketPatch(status=PENDING), actor="a1", now=NOW)

    assert caught.value.details == {
        "from": "RESOLVED",
        "to": "PENDING",
        "allowed": ["CLOSED", "IN_PROGRESS", "OPEN"],
    }


def test_forbidden_transition_from_closed_lists_nothing() -> None:
    with pytest.raises(lifecycle.TransitionNotAllowedError) as caught:
        lifecycle.apply_patch(ticket_in(CLOSED), lifecycle.TicketPatch(status=OPEN), actor="a1", now=NOW)

    assert caught.value.details == {"from": "CLOSED", "to": "OPEN", "allowed": []}


def test_transition_not_allowed_is_a_domain_error() -> None:
    assert issubclass(lifecycle.TransitionNotAllowedError, domain.DomainError)


@pytest.mark.parametrize("status", list(TicketStatus), ids=lambda status: status.value)
def test_patch_to_the_current_status_yields_no_step(status: TicketStatus) -> None:
    ticket = ticket_in(status)

    assert lifecycle.apply_patch(ticket, lifecycle.TicketPatch(status=status), actor="a1", now=NOW) == []


# --- apply_patch: field updates -----------------------------------------------------------------


def test_field_update_is_one_ticket_updated_step_with_exact_changes() -> None:
    ticket = make_ticket(version=2, tags=["billing"])
    actor = unique("agent")
    patch = lifecycle.TicketPatch(
        title="VAT rate wrong on March invoice",
        priority=Priority.HIGH,
        category="finance",
        tags=("vat", "billing", "vat", "invoice"),
    )

    steps = lifecycle.apply_patch(ticket, patch, actor=actor, now=NOW)

    assert len(steps) == 1
    step = steps[0]
    assert isinstance(step.event, TicketUpdated)
    assert step.event.changed_fields == ["category", "priority", "tags", "title"]
    assert step.ticket.tags == ["billing", "invoice", "vat"]
    assert step.changes == (
        FieldChange("category", None, "finance"),
        FieldChange("priority", Priority.MEDIUM, Priority.HIGH),
        FieldChange("tags", ["billing"], ["billing", "invoice", "vat"]),
        FieldChange("title", TITLE, "VAT rate wrong on March invoice"),
    )
    assert (step.ticket.version, step.event.sequence) == (3, 3)
    assert step.ticket.updated_at == NOW
    assert (step.event.actor, step.event.occurred_at) == (actor, NOW)
    assert step.event.ticket == step.ticket
    assert step.ticket.status is OPEN
    assert (ticket.version, ticket.title, ticket.tags) == (2, TITLE, ["billing"])


def test_only_fields_whose_value_changes_are_listed() -> None:
    ticket = make_ticket()
    patch = lifecycle.TicketPatch(
        title=TITLE, description="Now with the PDF attached.", type=TicketType.SUPPORT
    )

    steps = lifecycle.apply_patch(ticket, patch, actor="a1", now=NOW)

    assert len(steps) == 1
    assert isinstance(steps[0].event, TicketUpdated)
    assert steps[0].event.changed_fields == ["description"]
    assert steps[0].changes == (FieldChange("description", ticket.description, "Now with the PDF attached."),)


def test_unchanged_values_produce_no_step() -> None:
    ticket = make_ticket(
        status=IN_PROGRESS,
        tags=["billing", "vat"],
        assignee_ids=["agent-a", "agent-b"],
        assigned_team="finance",
    )
    patch = lifecycle.TicketPatch(
        title=TITLE,
        description=ticket.description,
        status=IN_PROGRESS,
        priority=ticket.priority,
        type=ticket.type,
        tags=("vat", "billing", "vat"),
        assignee_ids=("agent-b", "agent-a", "agent-b"),
        assigned_team="finance",
    )

    assert lifecycle.apply_patch(ticket, patch, actor="a1", now=NOW) == []


def test_empty_patch_produces_no_step() -> None:
    assert lifecycle.apply_patch(make_ticket(), lifecycle.TicketPatch(), actor="a1", now=NOW) == []


# --- apply_patch: assignment --------------------------------------------------------------------


def test_assignment_is_one_ticket_assigned_step_with_previous_assignees() -> None:
    ticket = make_ticket(assignee_ids=["agent-b"], assigned_team="billing")
    actor = unique("lead")
    patch = lifecycle.TicketPatch(assignee_ids=("agent-c", "agent-a", "agent-c"), assigned_team="tier-2")

    steps = lifecycle.apply_patch(ticket, patch, actor=actor, now=NOW)

    assert len(steps) == 1
    step = steps[0]
    assert isinstance(step.event, TicketAssigned)
    assert step.event.previous_assignee_ids == ["agent-b"]
    assert step.ticket.assignee_ids == ["agent-a", "agent-c"]
    assert step.ticket.assigned_team == "tier-2"
    assert step.changes == (
        FieldChange("assignee_ids", ["agent-b"], ["agent-a", "agent-c"]),
        FieldChange("assigned_team", "billing", "tier-2"),
    )
    assert (step.ticket.version, step.event.sequence, step.event.actor) == (2, 2, actor)
    assert step.event.ticket == step.ticket


def test_team_only_assignment_lists_only_the_team_change() -> None:
    ticket = make_ticket(assignee_ids=["agent-b"], assigned_team=None)

    steps = lifecycle.apply_patch(ticket, lifecycle.TicketPatch(assigned_team="billing"), actor="a1", now=NOW)

    assert len(steps) == 1
    assert isinstance(steps[0].event, TicketAssigned)
    assert steps[0].event.previous_assignee_ids == ["agent-b"]
    assert steps[0].ticket.assignee_ids == ["agent-b"]
    assert steps[0].changes == (FieldChange("assigned_team", None, "billing"),)


# --- apply_patch: status and the combined order ------------------------------------------------


def test_combined_patch_steps_are_update_then_assign_then_status() -> None:
    ticket = make_ticket(version=4)
    actor = unique("agent")
    patch = lifecycle.TicketPatch(
        status=PENDING, priority=Priority.URGENT, assignee_ids=("agent-z",), title="Wrong VAT on invoices"
    )

    steps = lifecycle.apply_patch(ticket, patch, actor=actor, now=NOW)

    assert [type(step.event) for step in steps] == [TicketUpdated, TicketAssigned, TicketStatusChanged]
    assert [step.event.sequence for step in steps] == [5, 6, 7]
    assert [step.ticket.version for step in steps] == [5, 6, 7]
    for step in steps:
        assert step.event.ticket == step.ticket
        assert (step.event.actor, step.event.occurred_at, step.ticket.updated_at) == (actor, NOW, NOW)
    updated, assigned, status = steps
    assert updated.ticket.assignee_ids == []
    assert updated.ticket.status is OPEN
    assert assigned.ticket.priority is Priority.URGENT
    assert assigned.ticket.status is OPEN
    assert status.ticket.title == "Wrong VAT on invoices"
    assert status.ticket.assignee_ids == ["agent-z"]
    assert status.ticket.status is PENDING
    assert isinstance(status.event, TicketStatusChanged)
    assert (status.event.from_status, status.event.to_status) == (OPEN, PENDING)
    assert status.changes == (FieldChange("status", OPEN, PENDING),)


def test_resolving_stamps_resolved_at_and_resolution_notes() -> None:
    ticket = ticket_in(IN_PROGRESS)

    steps = lifecycle.apply_patch(
        ticket,
        lifecycle.TicketPatch(status=RESOLVED, resolution_notes="Credit note issued"),
        actor="a1",
        now=NOW,
    )

    assert len(steps) == 1
    resolved = steps[0].ticket
    assert (resolved.status, resolved.resolved_at, resolved.resolution_notes) == (
        RESOLVED,
        NOW,
        "Credit note issued",
    )
    assert resolved.closed_at is None
    assert steps[0].changes == (
        FieldChange("status", IN_PROGRESS, RESOLVED),
        FieldChange("resolved_at", None, NOW),
        FieldChange("resolution_notes", None, "Credit note issued"),
    )


def test_closing_stamps_closed_at_and_keeps_resolved_at() -> None:
    ticket = ticket_in(RESOLVED)

    steps = lifecycle.apply_patch(ticket, lifecycle.TicketPatch(status=CLOSED), actor="a1", now=NOW)

    closed = steps[0].ticket
    assert (closed.status, closed.closed_at, closed.resolved_at) == (CLOSED, NOW, EARLIER)
    assert steps[0].changes == (FieldChange("status", RESOLVED, CLOSED), FieldChange("closed_at", None, NOW))


@pytest.mark.parametrize("reopened_to", [OPEN, IN_PROGRESS], ids=lambda status: status.value)
def test_reopening_a_resolved_ticket_clears_resolved_at(reopened_to: TicketStatus) -> None:
    ticket = ticket_in(RESOLVED)

    steps = lifecycle.apply_patch(ticket, lifecycle.TicketPatch(status=reopened_to), actor="a1", now=NOW)

    assert steps[0].ticket.status is reopened_to
    assert steps[0].ticket.resolved_at is None
    assert steps[0].changes == (
        FieldChange("status", RESOLVED, reopened_to),
        FieldChange("resolved_at", EARLIER, None),
    )


def test_resolving_again_after_a_reopen_stamps_the_new_time() -> None:
    reopened = lifecycle.apply_patch(
        ticket_in(RESOLVED), lifecycle.TicketPatch(status=OPEN), actor="a1", now=NOW
    )

    again = lifecycle.apply_patch(
        reopened[-1].ticket, lifecycle.TicketPatch(status=RESOLVED), actor="a1", now=LATER
    )

    assert again[0].ticket.resolved_at == LATER
    assert again[0].changes[:2] == (
        FieldChange("status", OPEN, RESOLVED),
        FieldChange("resolved_at", None, LATER),
    )


# --- public replies -----------------------------------------------------------------------------


def reply(ticket: TicketSnapshot, *, thread: list[str], author_id: str = "agent-7") -> list[lifecycle.Step]:
    return lifecycle.public_reply(
        ticket,
        body="We have issued a credit note.",
        author=Person(email="sam@help.example.test", name="Sam Agent"),
        author_id=author_id,
        interaction_id="int-42",
        message_domain=MESSAGE_DOMAIN,
        thread=thread,
        now=NOW,
    )


def test_first_reply_stamps_first_response_and_starts_work() -> None:
    ticket = make_ticket(version=2)
    author_id = unique("agent")

    steps = reply(ticket, thread=["<root@mail.example.test>"], author_id=author_id)

    assert [type(step.event) for step in steps] == [TicketInteractionAdded, TicketStatusChanged]
    added, started = steps
    assert (added.ticket.first_response_at, added.ticket.status, added.ticket.version) == (NOW, OPEN, 3)
    assert added.changes == (
        FieldChange("interactions", None, "EMAIL_OUTBOUND"),
        FieldChange("first_response_at", None, NOW),
    )
    assert (started.ticket.first_response_at, started.ticket.status, started.ticket.version) == (
        NOW,
        IN_PROGRESS,
        4,
    )
    assert started.changes == (FieldChange("status", OPEN, IN_PROGRESS),)
    assert isinstance(started.event, TicketStatusChanged)
    assert (started.event.from_status, started.event.to_status) == (OPEN, IN_PROGRESS)
    assert [step.event.sequence for step in steps] == [3, 4]
    assert [step.event.actor for step in steps] == [author_id, author_id]
    assert all(step.event.ticket == step.ticket for step in steps)


@pytest.mark.parametrize("status", [IN_PROGRESS, PENDING, WAITING], ids=lambda status: status.value)
def test_later_reply_is_one_step_and_keeps_first_response(status: TicketStatus) -> None:
    ticket = make_ticket(status=status, first_response_at=EARLIER, version=5)

    steps = reply(ticket, thread=["<root@mail.example.test>"])

    assert len(steps) == 1
    assert isinstance(steps[0].event, TicketInteractionAdded)
    assert steps[0].ticket.first_response_at == EARLIER
    assert steps[0].ticket.status is status
    assert (steps[0].ticket.version, steps[0].event.sequence) == (6, 6)
    assert steps[0].changes == (FieldChange("interactions", None, "EMAIL_OUTBOUND"),)


def test_first_reply_on_a_pending_ticket_stamps_first_response_without_a_status_change() -> None:
    steps = reply(make_ticket(status=PENDING), thread=[])

    assert len(steps) == 1
    assert (steps[0].ticket.status, steps[0].ticket.first_response_at) == (PENDING, NOW)


def test_reply_is_an_outbound_email_in_the_ticket_thread() -> None:
    requester = unique_person("Casey Customer")
    ticket = make_ticket(requester=requester)
    thread = ["<root@mail.example.test>", "<second@mail.example.test>", "<third@mail.example.test>"]

    steps = reply(ticket, thread=thread, author_id="agent-7")

    assert isinstance(steps[0].event, TicketInteractionAdded)
    assert steps[0].event.interaction == InteractionSummary(
        id="int-42",
        type=InteractionType.EMAIL_OUTBOUND,
        customer_visible=True,
        author=Person(email="sam@help.example.test", name="Sam Agent"),
        author_id="agent-7",
        body_text="We have issued a credit note.",
        message_id="<int-42@help.example.test>",
        subject=f"[TKT-0001] {TITLE}",
        in_reply_to="<third@mail.example.test>",
        references=thread,
        recipients=[requester.email],
        delivery_status=DeliveryStatus.SENDING,
        created_at=NOW,
    )


def test_reply_without_a_thread_replies_to_nothing() -> None:
    steps = reply(make_ticket(), thread=[])

    assert isinstance(steps[0].event, TicketInteractionAdded)
    assert steps[0].event.interaction.in_reply_to is None
    assert steps[0].event.interaction.references == []


def test_reply_subject_is_ref_and_title() -> None:
    assert lifecycle.reply_subject(make_ticket()) == f"[TKT-0001] {TITLE}"


def test_reply_to_a_closed_ticket_is_refused() -> None:
    ticket = ticket_in(CLOSED)

    with pytest.raises(domain.DomainError) as caught:
        reply(ticket, thread=[])

    assert type(caught.value) is domain.DomainError
    assert caught.value.code == "rule_violated"
    assert str(caught.value) == "TKT-0001 is closed; open a follow-up ticket instead"


def test_reply_to_a_ticket_without_requester_is_refused() -> None:
    ticket = make_ticket().model_copy(update={"requester": None})

    with pytest.raises(domain.DomainError) as caught:
        reply(ticket, thread=[])

    assert type(caught.value) is domain.DomainError
    assert str(caught.value) == "TKT-0001 has no requester to reply to"


# --- internal notes and mentions ----------------------------------------------------------------


def test_internal_note_is_staff_only_and_carries_mentions() -> None:
    ticket = make_ticket(version=3)
    author = Person(email="sam@help.example.test", name="Sam Agent")
    body = "@bob.smith and @Ann, not an email like x@y.com"

    steps = lifecycle.internal_note(
        ticket, body=body, author=author, author_id="agent-7", interaction_id="n-1", now=NOW
    )

    assert len(steps) == 1
    step = steps[0]
    assert isinstance(step.event, TicketInteractionAdded)
    assert step.event.interaction == InteractionSummary(
        id="n-1",
        type=InteractionType.INTERNAL_NOTE,
        customer_visible=False,
        author=author,
        author_id="agent-7",
        body_text=body,
        mentions=["ann", "bob.smith"],
        created_at=NOW,
    )
    assert step.changes == (FieldChange("interactions", None, "INTERNAL_NOTE"),)
    assert (step.ticket.version, step.event.sequence, step.event.actor) == (4, 4, "agent-7")
    # A note is not a response to the customer and does not start work.
    assert (step.ticket.first_response_at, step.ticket.status) == (None, OPEN)


@pytest.mark.parametrize(
    ("text", "mentions"),
    [
        ("@bob.smith and @Ann, not an email like x@y.com", ["ann", "bob.smith"]),
        ("@Ann @ann @ANN", ["ann"]),
        ("@zoe, then @adam", ["adam", "zoe"]),
        ("(@dev_ops-2) please look", ["dev_ops-2"]),
        ("write to billing@example.test", []),
        ("no handles here", []),
        ("", []),
    ],
)
def test_mentions_in(text: str, mentions: list[str]) -> None:
    assert lifecycle.mentions_in(text) == mentions


def test_mention_at_the_end_of_a_sentence_excludes_the_full_stop() -> None:
    assert lifecycle.mentions_in("Can you check this, @bob.smith.") == ["bob.smith"]


# --- customer messages --------------------------------------------------------------------------


@pytest.mark.parametrize("status", [RESOLVED, WAITING], ids=lambda status: status.value)
def test_customer_message_reopens_a_resolved_or_waiting_ticket(status: TicketStatus) -> None:
    ticket = ticket_in(status, version=6)
    customer = unique_person("Casey Customer")
    message = lifecycle.portal_message(body="Still wrong.", author=customer, interaction_id="p-1", now=NOW)

    steps = lifecycle.customer_message(ticket, message, actor=customer.email, now=NOW)

    assert [type(step.event) for step in steps] == [TicketInteractionAdded, TicketStatusChanged]
    added, reopened = steps
    assert isinstance(added.event, TicketInteractionAdded)
    assert added.event.interaction == message
    assert added.ticket.status is status
    assert added.changes == (FieldChange("interactions", None, "PORTAL_MESSAGE"),)
    assert isinstance(reopened.event, TicketStatusChanged)
    assert (reopened.event.from_status, reopened.event.to_status) == (status, OPEN)
    assert reopened.ticket.status is OPEN
    assert reopened.ticket.resolved_at is None
    assert [step.event.sequence for step in steps] == [7, 8]
    assert all(step.event.ticket == step.ticket for step in steps)
    assert all(step.event.actor == customer.email for step in steps)


@pytest.mark.parametrize("status", [OPEN, IN_PROGRESS, PENDING], ids=lambda status: status.value)
def test_customer_message_on_an_active_ticket_keeps_its_status(status: TicketStatus) -> None:
    ticket = ticket_in(status, version=2)
    customer = unique_person("Casey Customer")
    message = lifecycle.portal_message(body="Any news?", author=customer, interaction_id="p-2", now=NOW)

    steps = lifecycle.customer_message(ticket, message, actor=customer.email, now=NOW)

    assert len(steps) == 1
    assert isinstance(steps[0].event, TicketInteractionAdded)
    assert steps[0].event.interaction == message
    assert (steps[0].ticket.status, steps[0].ticket.version, steps[0].event.sequence) == (status, 3, 3)
    assert steps[0].changes == (FieldChange("interactions", None, "PORTAL_MESSAGE"),)


# --- follow-ups and portal messages ------------------------------------------------------------


def test_follow_up_of_a_closed_ticket_links_it_and_inherits_routing() -> None:
    closed = ticket_in(CLOSED, priority=Priority.URGENT, category="finance", assigned_team="billing")
    requester = unique_person("Casey Customer")
    request = domain.NewTicket(
        title="Re: Invoice shows the wrong VAT rate",
        description="The April invoice has the same problem.",
        source=Source.EMAIL,
        requester=requester,
        priority=Priority.LOW,
        category="general",
        tags=("vat",),
        email_thread_id="<root-2@mail.example.test>",
    )

    follow_up = lifecycle.follow_up_of(closed, request)

    assert follow_up == domain.NewTicket(
        title="Re: Invoice shows the wrong VAT rate",
        description="The April invoice has the same problem.",
        source=Source.EMAIL,
        requester=requester,
        priority=Priority.URGENT,
        type=TicketType.SUPPORT,
        category="finance",
        tags=("vat",),
        email_thread_id="<root-2@mail.example.test>",
        follow_up_of="TKT-0001",
        assigned_team="billing",
    )


def test_portal_message_is_customer_visible() -> None:
    customer = unique_person("Casey Customer")

    message = lifecycle.portal_message(
        body="Here is the PDF.", author=customer, interaction_id="p-9", now=NOW
    )

    assert message == InteractionSummary(
        id="p-9",
        type=InteractionType.PORTAL_MESSAGE,
        customer_visible=True,
        author=customer,
        body_text="Here is the PDF.",
        created_at=NOW,
    )


# --- who may see what ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("teams", "sees_everything", "assigned", "ticket_team", "visible"),
    [
        pytest.param((), True, False, "billing", True, id="sees-everything"),
        pytest.param((), True, False, None, True, id="sees-everything-no-team"),
        pytest.param((), False, True, "billing", True, id="assignee"),
        pytest.param(("support", "billing"), False, False, "billing", True, id="team-member"),
        pytest.param(("support",), False, False, "billing", False, id="other-team"),
        pytest.param(("support",), False, False, None, False, id="ticket-without-team"),
        pytest.param((), False, False, None, False, id="no-teams-at-all"),
    ],
)
def test_staff_can_see(
    teams: tuple[str, ...], sees_everything: bool, assigned: bool, ticket_team: str | None, visible: bool
) -> None:
    viewer = domain.StaffViewer(user_id=unique("agent"), teams=teams, sees_everything=sees_everything)
    assignees = [unique("agent"), viewer.user_id] if assigned else [unique("agent")]
    ticket = make_ticket(assignee_ids=assignees, assigned_team=ticket_team)

    assert domain.staff_can_see(viewer, ticket) is visible


def test_customer_with_the_requester_email_can_see() -> None:
    ticket = make_ticket()
    assert ticket.requester is not None

    assert domain.customer_can_see(domain.CustomerViewer(ticket.requester.email), ticket) is True


def test_customer_email_is_compared_lower_cased() -> None:
    ticket = make_ticket()
    assert ticket.requester is not None

    assert domain.customer_can_see(domain.CustomerViewer(ticket.requester.email.upper()), ticket) is True


@pytest.mark.parametrize("email", ["someone.else@example.test", ""], ids=["other", "empty"])
def test_other_or_missing_customer_email_cannot_see(email: str) -> None:
    assert domain.customer_can_see(domain.CustomerViewer(email), make_ticket()) is False


def test_nobody_sees_a_ticket_without_requester_as_customer() -> None:
    ticket = make_ticket().model_copy(update={"requester": None})

    assert domain.customer_can_see(domain.CustomerViewer(unique("casey") + "@example.test"), ticket) is False


def test_organisation_grant_shows_colleagues_tickets_of_that_organisation_only() -> None:
    ticket = make_ticket().model_copy(update={"organisation_id": "org-acme"})
    colleague = unique("colleague") + "@acme.example"

    assert domain.customer_can_see(domain.CustomerViewer(colleague, organisation_id="org-acme"), ticket)
    assert not domain.customer_can_see(domain.CustomerViewer(colleague), ticket)
    assert not domain.customer_can_see(domain.CustomerViewer(colleague, organisation_id="org-other"), ticket)


def test_organisation_grant_never_matches_tickets_without_organisation() -> None:
    ticket = make_ticket().model_copy(update={"organisation_id": None})

    viewer = domain.CustomerViewer(unique("casey") + "@example.test", organisation_id="org-acme")
    assert domain.customer_can_see(viewer, ticket) is False


def test_reopening_clears_the_resolution_and_its_notes() -> None:
    resolved = ticket_in(TicketStatus.RESOLVED, resolution_notes="Restarted the job")
    [step] = lifecycle.apply_patch(
        resolved, lifecycle.TicketPatch(status=TicketStatus.OPEN), actor="a1", now=NOW
    )
    assert step.ticket.resolved_at is None and step.ticket.resolution_notes is None
    assert FieldChange("resolution_notes", "Restarted the job", None) in step.changes


def test_resolution_notes_without_resolving_are_refused() -> None:
    with pytest.raises(domain.DomainError, match="resolution notes go with resolving"):
        lifecycle.apply_patch(
            ticket_in(TicketStatus.OPEN), lifecycle.TicketPatch(resolution_notes="done"), actor="a1", now=NOW
        )


def test_resolution_notes_of_a_resolved_ticket_can_be_corrected() -> None:
    resolved = ticket_in(TicketStatus.RESOLVED, resolution_notes="typo")
    [step] = lifecycle.apply_patch(
        resolved, lifecycle.TicketPatch(resolution_notes="fixed"), actor="a1", now=NOW
    )
    assert step.ticket.resolution_notes == "fixed" and step.event.event_type == "ticket.updated"


def test_sla_stamp_prefers_the_resolution_due_date_and_keeps_the_first_breach() -> None:
    ticket = make_ticket()
    first_due, resolution_due = NOW + timedelta(hours=8), NOW + timedelta(hours=48)
    [first] = lifecycle.sla_stamp(ticket, now=NOW, due_date=first_due)
    [second] = lifecycle.sla_stamp(first.ticket, now=NOW, due_date=resolution_due, due_is_resolution=True)
    assert lifecycle.sla_stamp(second.ticket, now=NOW, due_date=first_due) == []
    [breach] = lifecycle.sla_stamp(second.ticket, now=NOW, breached_at=NOW)
    assert lifecycle.sla_stamp(breach.ticket, now=NOW, breached_at=NOW + timedelta(hours=1)) == []
    assert first.ticket.due_date == first_due
    assert second.ticket.due_date == resolution_due
    assert breach.ticket.sla_breach_at == NOW
    assert breach.event.actor == "sla" and breach.event.changed_fields == ["sla_breach_at"]
    assert [first.ticket.version, second.ticket.version, breach.ticket.version] == [
        ticket.version + 1,
        ticket.version + 2,
        ticket.version + 3,
    ]


def test_csat_is_recorded_with_its_event_and_the_same_answer_again_changes_nothing() -> None:
    ticket = make_ticket()
    answer = Csat(score=3, comment="Took a while")

    [step] = lifecycle.csat_recorded(ticket, answer, actor="kim@example.test", now=NOW)

    assert step.ticket.csat == answer and step.ticket.version == ticket.version + 1
    assert step.event.event_type == "ticket.csat_recorded" and step.event.sequence == step.ticket.version
    assert step.changes == (FieldChange("csat", None, {"score": 3, "comment": "Took a while"}),)
    assert lifecycle.csat_recorded(step.ticket, answer, actor="kim@example.test", now=NOW) == []


def test_csat_form_is_one_staff_only_form_per_ticket() -> None:
    ticket = make_ticket()
    first = lifecycle.csat_form(ticket.id, Csat(score=1), submitted_by=ticket.requester, submitted_at=NOW)
    second = lifecycle.csat_form(ticket.id, Csat(score=5, comment="ok"), submitted_by=None, submitted_at=NOW)

    assert first.id == second.id
    assert first.type is InteractionType.FORM_SUBMISSION and first.customer_visible is False
    assert first.body_text == "Satisfaction survey: 1/5"


@pytest.mark.parametrize(
    ("kind", "visible"),
    [
        (InteractionType.PHONE_CALL, False),
        (InteractionType.MEETING, False),
        (InteractionType.NOTE, False),
        (InteractionType.SMS, True),
    ],
)
def test_logged_contacts_are_visible_to_the_customer_only_when_an_sms(
    kind: InteractionType, visible: bool
) -> None:
    contact = lifecycle.LoggedContact(
        type=kind, body="b", occurred_at=NOW - timedelta(hours=1), duration_minutes=5
    )

    [step] = lifecycle.logged_contact(
        make_ticket(), contact, author=unique_person("al"), author_id="al", interaction_id="i", now=NOW
    )

    interaction = step.event.interaction  # type: ignore[attr-defined]
    assert interaction.customer_visible is visible and interaction.created_at == contact.occurred_at
    assert step.ticket.first_response_at is None


@pytest.mark.parametrize(
    "kind", [InteractionType.SYSTEM, InteractionType.EMAIL_OUTBOUND, InteractionType.INTERNAL_NOTE]
)
def test_only_outside_contacts_are_logged_by_hand(kind: InteractionType) -> None:
    contact = lifecycle.LoggedContact(type=kind, body="b", occurred_at=NOW)

    with pytest.raises(domain.DomainError):
        lifecycle.logged_contact(
            make_ticket(), contact, author=unique_person("al"), author_id="al", interaction_id="i", now=NOW
        )


# --- closing a ticket the customer left waiting -----------------------------------------------


def test_waiting_auto_close_closes_the_ticket_with_a_staff_only_system_note() -> None:
    ticket = ticket_in(WAITING, version=5)
    waiting_since = datetime(2026, 2, 23, 8, 45, 30, tzinfo=UTC)

    closing, noting = lifecycle.waiting_auto_close(
        ticket, waiting_since=waiting_since, status_changed_at=waiting_since, note_id="note-1", now=NOW
    )

    assert isinstance(closing.event, TicketStatusChanged)
    assert (closing.event.from_status, closing.event.to_status) == (WAITING, CLOSED)
    assert closing.changes == (FieldChange("status", WAITING, CLOSED), FieldChange("closed_at", None, NOW))
    assert isinstance(noting.event, TicketInteractionAdded)
    assert noting.event.interaction == InteractionSummary(
        id="note-1",
        type=InteractionType.SYSTEM,
        customer_visible=False,
        body_text=(
            "Closed automatically: the ticket was waiting on the customer since 2026-02-23 08:45 UTC "
            "and the customer did not reply within the waiting period after the check-in."
        ),
        created_at=NOW,
    )
    final = noting.ticket
    assert (final.status, final.closed_at, final.resolved_at) == (CLOSED, NOW, None)
    assert [closing.ticket.version, final.version] == [6, 7]
    assert [closing.event.sequence, noting.event.sequence] == [6, 7]
    assert {closing.event.actor, noting.event.actor} == {lifecycle.SLA_ACTOR}


def test_waiting_auto_close_says_when_waiting_started_in_utc() -> None:
    waiting_since = datetime(2026, 2, 23, 10, 5, tzinfo=timezone(timedelta(hours=2)))

    [_, noting] = lifecycle.waiting_auto_close(
        ticket_in(WAITING), waiting_since=waiting_since, status_changed_at=waiting_since, note_id="n", now=NOW
    )

    assert "since 2026-02-23 08:05 UTC " in noting.event.interaction.body_text  # type: ignore[attr-defined]


@pytest.mark.parametrize("status", [OPEN, IN_PROGRESS, PENDING, RESOLVED, CLOSED], ids=lambda s: s.value)
def test_waiting_auto_close_leaves_a_ticket_that_is_not_waiting_alone(status: TicketStatus) -> None:
    assert (
        lifecycle.waiting_auto_close(
            ticket_in(status), waiting_since=EARLIER, status_changed_at=EARLIER, note_id="n", now=NOW
        )
        == []
    )


@pytest.mark.parametrize(
    ("changed_after_waiting_since", "closes"),
    [
        (timedelta(hours=-2), True),
        (timedelta(seconds=30), True),  # the two services' clocks differ a little
        (timedelta(minutes=5), False),  # it left waiting and came back: a newer waiting period
    ],
)
def test_waiting_auto_close_only_ends_the_waiting_period_it_was_counted_for(
    changed_after_waiting_since: timedelta, closes: bool
) -> None:
    steps = lifecycle.waiting_auto_close(
        ticket_in(WAITING),
        waiting_since=EARLIER,
        status_changed_at=EARLIER + changed_after_waiting_since,
        note_id="n",
        now=NOW,
    )

    assert [step.event.event_type for step in steps] == (
        ["ticket.status_changed", "ticket.interaction_added"] if closes else []
    )
