"""What ticket events and due timers do to SLA clocks (pure, injected times)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from ticketstream.contracts.events import (
    ChatAuthorRole,
    InteractionSummary,
    SlaTarget,
    TicketArchived,
    TicketCreated,
    TicketInteractionAdded,
    TicketStatusChanged,
    TicketUpdated,
)
from ticketstream.contracts.models import InteractionType, Priority, Source, TicketSnapshot, TicketStatus
from ticketstream_sla.business_hours import twenty_four_seven_calendar
from ticketstream_sla.clocks import Clock, ClockState
from ticketstream_sla.domain import on_ticket_event, on_timer
from ticketstream_sla.policies import DEFAULT_POLICIES, TicketFacts, policy_for
from ticketstream_sla.timers import TimerKind

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ALWAYS = twenty_four_seven_calendar()


def snapshot(
    *, status: TicketStatus = TicketStatus.OPEN, priority: Priority = Priority.HIGH, version: int = 1
):
    return TicketSnapshot(
        id="t1",
        ref="TKT-0001",
        title="x",
        status=status,
        priority=priority,
        source=Source.EMAIL,
        version=version,
        created_at=T0,
        updated_at=T0,
    )


def common(ticket: TicketSnapshot, at: datetime) -> dict:
    return {
        "ticket_id": "t1",
        "ref": "TKT-0001",
        "sequence": ticket.version,
        "occurred_at": at,
        "ticket": ticket,
    }


def react(event, clocks: dict[SlaTarget, Clock], at: datetime):
    policy = policy_for(TicketFacts(event.ticket.priority), DEFAULT_POLICIES)
    return on_ticket_event(event, clocks, policy=policy, calendar=ALWAYS, now=at)


def started() -> dict[SlaTarget, Clock]:
    reaction = react(TicketCreated(**common(snapshot(), T0)), {}, T0)
    return {clock.target: clock for clock in reaction.clocks}


def status_change(came_from: TicketStatus, to: TicketStatus, at: datetime) -> TicketStatusChanged:
    return TicketStatusChanged(**common(snapshot(status=to), at), from_status=came_from, to_status=to)


def apply(clocks: dict[SlaTarget, Clock], reaction) -> dict[SlaTarget, Clock]:
    return {**clocks, **{clock.target: clock for clock in reaction.clocks}}


def test_a_new_ticket_starts_first_response_and_resolution_clocks_from_its_creation() -> None:
    reaction = react(
        TicketCreated(**common(snapshot(), T0 + timedelta(seconds=2))), {}, T0 + timedelta(seconds=2)
    )

    assert [(e.event_type, e.target, e.due_at) for e in reaction.events] == [
        ("sla.clock_started", SlaTarget.FIRST_RESPONSE, T0 + timedelta(hours=4)),
        ("sla.clock_started", SlaTarget.RESOLUTION, T0 + timedelta(hours=24)),
    ]


def test_a_public_reply_meets_the_first_response_once() -> None:
    reply = InteractionSummary(
        id="i", type=InteractionType.EMAIL_OUTBOUND, customer_visible=True, created_at=T0
    )
    note = reply.model_copy(update={"type": InteractionType.INTERNAL_NOTE, "customer_visible": False})
    at = T0 + timedelta(hours=1)

    by_note = react(TicketInteractionAdded(**common(snapshot(), at), interaction=note), started(), at)
    by_reply = react(TicketInteractionAdded(**common(snapshot(), at), interaction=reply), started(), at)
    again = react(
        TicketInteractionAdded(**common(snapshot(), at), interaction=reply), apply(started(), by_reply), at
    )

    assert by_note.events == []
    assert [(e.event_type, e.target) for e in by_reply.events] == [("sla.met", SlaTarget.FIRST_RESPONSE)]
    assert again.events == []


def test_waiting_on_the_customer_pauses_and_their_reply_resumes_with_the_due_time_moved() -> None:
    clocks = started()
    paused = react(
        status_change(TicketStatus.OPEN, TicketStatus.WAITING_ON_CUSTOMER, T0 + timedelta(hours=1)),
        clocks,
        T0 + timedelta(hours=1),
    )
    clocks = apply(clocks, paused)
    resumed = react(
        status_change(TicketStatus.WAITING_ON_CUSTOMER, TicketStatus.OPEN, T0 + timedelta(hours=11)),
        clocks,
        T0 + timedelta(hours=11),
    )

    assert {e.event_type for e in paused.events} == {"sla.clock_paused"}
    assert all(clock.state is ClockState.PAUSED for clock in paused.clocks)
    assert [(e.event_type, e.target, e.due_at) for e in resumed.events] == [
        ("sla.clock_resumed", SlaTarget.FIRST_RESPONSE, T0 + timedelta(hours=14)),
        ("sla.clock_resumed", SlaTarget.RESOLUTION, T0 + timedelta(hours=34)),
    ]


def test_resolving_meets_resolution_drops_an_unanswered_first_response_and_a_reopen_resumes() -> None:
    at = T0 + timedelta(hours=2)
    resolved = react(status_change(TicketStatus.OPEN, TicketStatus.RESOLVED, at), started(), at)
    reopened = react(
        status_change(TicketStatus.RESOLVED, TicketStatus.OPEN, at + timedelta(days=1)),
        apply(started(), resolved),
        at + timedelta(days=1),
    )

    assert [(e.event_type, e.target) for e in resolved.events] == [
        ("sla.clock_cancelled", SlaTarget.FIRST_RESPONSE),
        ("sla.met", SlaTarget.RESOLUTION),
    ]
    assert [(e.event_type, e.target, e.due_at) for e in reopened.events] == [
        ("sla.clock_resumed", SlaTarget.RESOLUTION, at + timedelta(days=1, hours=22)),
    ]


def test_a_priority_change_retargets_running_clocks_keeping_the_time_counted() -> None:
    at = T0 + timedelta(minutes=30)
    urgent = snapshot(priority=Priority.URGENT, version=2)

    reaction = react(TicketUpdated(**common(urgent, at), changed_fields=["priority"]), started(), at)

    assert [(e.event_type, e.target, e.due_at, e.policy_id) for e in reaction.events] == [
        ("sla.clock_retargeted", SlaTarget.FIRST_RESPONSE, T0 + timedelta(hours=1), "default-urgent"),
        ("sla.clock_retargeted", SlaTarget.RESOLUTION, T0 + timedelta(hours=4), "default-urgent"),
    ]


def test_archiving_cancels_what_still_runs() -> None:
    reaction = react(TicketArchived(**common(snapshot(), T0)), started(), T0)

    assert {e.event_type for e in reaction.events} == {"sla.clock_cancelled"}
    assert all(clock.state is ClockState.CANCELLED for clock in reaction.clocks)


def test_timers_warn_once_breach_once_and_ignore_older_generations() -> None:
    clock = started()[SlaTarget.FIRST_RESPONSE]
    warning_time = clock.warning_at
    assert warning_time is not None

    warned = on_timer(clock, TimerKind.WARNING, generation=clock.generation, now=warning_time)
    warned_clock = warned.clocks[0]
    twice = on_timer(warned_clock, TimerKind.WARNING, generation=clock.generation, now=warning_time)
    stale = on_timer(clock, TimerKind.BREACH, generation=clock.generation - 1, now=warning_time)
    breached = on_timer(warned_clock, TimerKind.BREACH, generation=clock.generation, now=clock.due_at)
    after = on_timer(breached.clocks[0], TimerKind.BREACH, generation=clock.generation, now=clock.due_at)

    assert [e.event_type for e in warned.events] == ["sla.warning"]
    assert twice.events == [] and stale.events == [] and after.events == []
    assert [e.event_type for e in breached.events] == ["sla.breached"]
    assert breached.clocks[0].state is ClockState.BREACHED


def _interaction(kind: InteractionType, at: datetime, *, author_id: str | None = None) -> InteractionSummary:
    return InteractionSummary(
        id=f"i-{at.isoformat()}", type=kind, customer_visible=True, author_id=author_id, created_at=at
    )


def test_a_customer_message_after_the_first_response_awaits_the_next_response_until_answered() -> None:
    policy = replace(policy_for(TicketFacts(Priority.HIGH), DEFAULT_POLICIES), next_response_seconds=7200)

    def on(event, clocks_now, at):
        return on_ticket_event(event, clocks_now, policy=policy, calendar=ALWAYS, now=at)

    answered_at, wrote_at, again_at = (T0 + timedelta(hours=h) for h in (1, 2, 3))
    state = apply(
        started(),
        on(
            TicketInteractionAdded(
                **common(snapshot(), answered_at),
                interaction=_interaction(InteractionType.EMAIL_OUTBOUND, answered_at, author_id="alice"),
            ),
            started(),
            answered_at,
        ),
    )
    answered = state
    before_first_answer = on(
        TicketInteractionAdded(
            **common(snapshot(), T0), interaction=_interaction(InteractionType.EMAIL_INBOUND, T0)
        ),
        started(),
        T0,
    )
    wrote = on(
        TicketInteractionAdded(
            **common(snapshot(), wrote_at), interaction=_interaction(InteractionType.PORTAL_MESSAGE, wrote_at)
        ),
        state,
        wrote_at,
    )
    state = apply(state, wrote)
    wrote_again = on(
        TicketInteractionAdded(
            **common(snapshot(), again_at), interaction=_interaction(InteractionType.EMAIL_INBOUND, again_at)
        ),
        state,
        again_at,
    )
    staff_sms = on(
        TicketInteractionAdded(
            **common(snapshot(), again_at),
            interaction=_interaction(InteractionType.SMS, again_at, author_id="alice"),
        ),
        state,
        again_at,
    )
    out_of_office = on(
        TicketInteractionAdded(
            **common(snapshot(), wrote_at),
            interaction=_interaction(InteractionType.EMAIL_INBOUND, wrote_at).model_copy(
                update={"auto_submitted": True}
            ),
        ),
        answered,
        wrote_at,
    )
    agent_chat_line = on(
        TicketInteractionAdded(
            **common(snapshot(), wrote_at),
            interaction=_interaction(InteractionType.CHAT, wrote_at).model_copy(
                update={"chat_role": ChatAuthorRole.AGENT}
            ),
        ),
        answered,
        wrote_at,
    )
    replied = on(
        TicketInteractionAdded(
            **common(snapshot(), again_at),
            interaction=_interaction(InteractionType.EMAIL_OUTBOUND, again_at, author_id="alice"),
        ),
        state,
        again_at,
    )

    assert before_first_answer.events == [], "before the first response there is no next response"
    assert [(e.event_type, e.target, e.due_at) for e in wrote.events] == [
        ("sla.clock_started", SlaTarget.NEXT_RESPONSE, wrote_at + timedelta(hours=2))
    ]
    assert wrote_again.events == [], "the oldest unanswered message keeps counting"
    assert staff_sms.events == [], "a contact logged by staff is not a customer message"
    assert out_of_office.events == [], "an auto-reply is not the customer waiting for an answer"
    assert agent_chat_line.events == [], "an agent's chat line is not a customer message"
    assert [(e.event_type, e.target) for e in replied.events] == [("sla.met", SlaTarget.NEXT_RESPONSE)]
    state = apply(state, replied)
    later = T0 + timedelta(hours=5)
    restarted = on(
        TicketInteractionAdded(
            **common(snapshot(), later), interaction=_interaction(InteractionType.CHAT, later)
        ),
        state,
        later,
    )
    [clock] = restarted.clocks
    assert clock.generation > state[SlaTarget.NEXT_RESPONSE].generation, "older timers are outdated"
    assert clock.due_at == later + timedelta(hours=2)


LOW_NO_RESOLUTION = replace(policy_for(TicketFacts(Priority.LOW), DEFAULT_POLICIES), resolution_seconds=None)
HIGH = policy_for(TicketFacts(Priority.HIGH), DEFAULT_POLICIES)


def _updated(priority: Priority, at: datetime, *, status: TicketStatus = TicketStatus.OPEN, version: int = 2):
    return TicketUpdated(**common(snapshot(priority=priority, status=status, version=version), at))


def test_a_new_policy_without_a_resolution_target_cancels_the_running_one() -> None:
    at = T0 + timedelta(hours=1)
    reaction = on_ticket_event(
        _updated(Priority.LOW, at), started(), policy=LOW_NO_RESOLUTION, calendar=ALWAYS, now=at
    )

    assert [(e.event_type, e.target) for e in reaction.events] == [
        ("sla.clock_retargeted", SlaTarget.FIRST_RESPONSE),
        ("sla.clock_cancelled", SlaTarget.RESOLUTION),
    ]


def test_a_policy_that_adds_a_resolution_target_counts_it_from_the_ticket_creation() -> None:
    created = TicketCreated(**common(snapshot(priority=Priority.LOW), T0))
    low = {
        c.target: c
        for c in on_ticket_event(created, {}, policy=LOW_NO_RESOLUTION, calendar=ALWAYS, now=T0).clocks
    }
    at = T0 + timedelta(hours=3)

    reaction = on_ticket_event(_updated(Priority.HIGH, at), low, policy=HIGH, calendar=ALWAYS, now=at)

    assert set(low) == {SlaTarget.FIRST_RESPONSE}
    started_now = [e for e in reaction.events if e.event_type == "sla.clock_started"]
    assert [(e.target, e.due_at) for e in started_now] == [(SlaTarget.RESOLUTION, T0 + timedelta(hours=24))]


def test_without_a_change_of_what_chooses_the_policy_clocks_keep_theirs() -> None:
    at = T0 + timedelta(hours=1)
    other = replace(HIGH, id="gold-high", first_response_seconds=600, customer_tier="gold")

    kept = on_ticket_event(
        _updated(Priority.HIGH, at), started(), policy=other, calendar=ALWAYS, now=at, facts_changed=False
    )
    moved = on_ticket_event(_updated(Priority.HIGH, at), started(), policy=other, calendar=ALWAYS, now=at)

    assert kept.events == []
    assert {e.event_type for e in moved.events} == {"sla.clock_retargeted"}


def test_a_reopen_into_pending_resumes_the_resolution_and_pauses_it_until_the_ticket_moves_on() -> None:
    resolved_at, reopened_at, moved_at = (T0 + timedelta(hours=h) for h in (2, 5, 6))
    state = apply(
        started(),
        react(status_change(TicketStatus.OPEN, TicketStatus.RESOLVED, resolved_at), started(), resolved_at),
    )

    reopened = react(
        status_change(TicketStatus.RESOLVED, TicketStatus.PENDING, reopened_at), state, reopened_at
    )
    state = apply(state, reopened)
    moved = react(status_change(TicketStatus.PENDING, TicketStatus.OPEN, moved_at), state, moved_at)

    assert [(e.event_type, e.target) for e in reopened.events] == [
        ("sla.clock_resumed", SlaTarget.RESOLUTION),
        ("sla.clock_paused", SlaTarget.RESOLUTION),
    ]
    assert [(e.event_type, e.target, e.due_at) for e in moved.events] == [
        ("sla.clock_resumed", SlaTarget.RESOLUTION, moved_at + timedelta(hours=22)),
    ], "two hours counted before the resolve; none while resolved or pending"


def test_a_ticket_created_pending_starts_its_clocks_paused() -> None:
    created = TicketCreated(**common(snapshot(status=TicketStatus.PENDING), T0))

    reaction = react(created, {}, T0)

    assert [(e.event_type, e.target) for e in reaction.events] == [
        ("sla.clock_started", SlaTarget.FIRST_RESPONSE),
        ("sla.clock_paused", SlaTarget.FIRST_RESPONSE),
        ("sla.clock_started", SlaTarget.RESOLUTION),
        ("sla.clock_paused", SlaTarget.RESOLUTION),
    ]
    assert {clock.state for clock in {c.target: c for c in reaction.clocks}.values()} == {ClockState.PAUSED}


def test_sla_met_carries_the_due_time_that_was_met() -> None:
    at = T0 + timedelta(minutes=30)
    reply = _interaction(InteractionType.EMAIL_OUTBOUND, at, author_id="alice")

    reaction = react(TicketInteractionAdded(**common(snapshot(), at), interaction=reply), started(), at)

    [met] = reaction.events
    assert (met.event_type, met.due_at) == ("sla.met", T0 + timedelta(hours=4))
