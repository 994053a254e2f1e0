"""The sla database: clocks, the tickets they belong to, and their timers, with inbox and outbox.

Every change is one transaction: the ticket event's inbox claim (or the timer being fired), the
clocks and waiting state it changes, their next timers and the events it publishes. A timer that
two replicas fire at once conflicts in the database, and the loser finds it already fired.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel

from ticketstream.contracts import Envelope, encode_event
from ticketstream.contracts.events import SlaEvent, SlaTarget, SlaWaitingEvent, TicketEvent
from ticketstream.db import Database, Document, IndexPlan, MongoClient, Session, run_in_transaction
from ticketstream.inbox import apply_once
from ticketstream.outbox import enqueue
from ticketstream_sla import domain, waiting
from ticketstream_sla.business_hours import BusinessCalendar, CalendarError
from ticketstream_sla.clocks import Clock, ClockState
from ticketstream_sla.documents import (
    clock_document,
    clock_of,
    timer_document,
    timer_of,
    waiting_document,
    waiting_of,
)
from ticketstream_sla.policies import NoPolicyError, Policy, TicketFacts, policy_for
from ticketstream_sla.store_admin import AdminStore
from ticketstream_sla.store_firing import CLOCKS, TICKETS, TIMERS, FiringBatch, stored_facts
from ticketstream_sla.timers import Timer, TimerSubject, clock_timer, shard_of, timer_id
from ticketstream_sla.waiting import QuietPeriods, Waiting

log = logging.getLogger(__name__)

CONSUMER = "sla"
CUSTOMER_TIER_FIELD = "customer_tier"

INDEXES: IndexPlan = {
    CLOCKS: [
        IndexModel([("ref", ASCENDING)]),
        IndexModel([("ticket_id", ASCENDING)]),
        IndexModel([("state", ASCENDING), ("due_at", ASCENDING)]),
        IndexModel([("policy_id", ASCENDING)]),
    ],
    TIMERS: [IndexModel([("at", ASCENDING)])],
}


# What an administrative change does to one clock, given the calendar it counted on so far.
ClockMove = Callable[[Clock, BusinessCalendar], domain.Reaction]


@dataclass(frozen=True)
class TicketClocks:
    ticket_id: str
    ref: str
    clocks: list[Clock]
    calendars: dict[str, BusinessCalendar]


class SlaStore:
    def __init__(
        self,
        client: MongoClient,
        database: Database,
        admin: AdminStore,
        *,
        periods: QuietPeriods,
        shards: int,
        on_commit: Callable[[], None],
    ) -> None:
        self._client = client
        self._database = database
        self._admin = admin
        self._periods = periods
        self._shards = shards
        self._on_commit = on_commit
        # The scheduler listens here so a timer due in less than a poll interval is not late.
        self.on_timers_set: Callable[[list[tuple[Timer, int]]], None] = lambda timers: None

    # --- ticket events ---------------------------------------------------------------------

    async def apply_ticket_event(self, envelope: Envelope, event: TicketEvent) -> bool:
        """Follow a ticket event with the ticket's clocks and waiting state; False if seen before."""
        written: list[Timer] = []

        async def work(session: Session) -> bool:
            written.clear()
            ticket = await self._database[TICKETS].find_one({"_id": event.ticket_id}, session=session)
            if ticket is not None and ticket["sequence"] >= event.sequence:
                return False  # an older version of the ticket than one already followed
            changed, events = await self._react(event, ticket, session)
            await self._follow_queue_facts(event, ticket, session)
            written.extend(await self._save(changed, event, session))
            changed_waiting = self._waiting_after(event, ticket)
            await self._save_ticket(event, ticket, changed_waiting, session)
            if changed_waiting is not None:
                written.extend(await self._save_waiting_timer(changed_waiting, session))
            await self._publish(session, events)
            return True

        applied = bool(await apply_once(self._client, self._database, envelope, consumer=CONSUMER, work=work))
        if applied:
            self._after_commit(written)
        return applied

    async def _react(
        self, event: TicketEvent, ticket: Document | None, session: Session
    ) -> tuple[list[Clock], list[SlaEvent]]:
        current = {clock.target: clock for clock in await self._clocks_of_ticket(event.ticket_id, session)}
        policies = await self._admin.policies(session=session)
        facts = _facts(event)
        facts_changed = ticket is None or ticket.get("facts") != _facts_document(facts)
        try:
            policy = policy_for(facts, policies)
        except NoPolicyError as error:
            # Nothing covers the ticket now (policies disabled, or a priority without one): its
            # clocks go on under the policy they have, so they still pause, resume and stop.
            own = {clock.policy_id for clock in current.values()}
            kept = [candidate for candidate in policies if candidate.id in own]
            if not kept:
                log.warning("%s: %s; no SLA clocks", event.ref, error)
                return [], []
            policy, facts_changed = kept[0], False
        calendar = await self._admin.calendar(policy.calendar_id, session=session)
        clock_calendars = {
            calendar_id: await self._admin.calendar(calendar_id, session=session)
            for calendar_id in {clock.calendar_id for clock in current.values()}
        }
        try:
            reaction = domain.on_ticket_event(
                event,
                current,
                policy=policy,
                calendar=calendar,
                clock_calendars=clock_calendars,
                facts_changed=facts_changed,
                now=event.occurred_at,
            )
        except (CalendarError, OverflowError) as error:
            # A calendar without business time in reach cannot give a due time. The event is not
            # retried (it would fail the same way); the clocks stay as they were, and say so.
            log.error("%s: SLA clocks not changed by %s: %s", event.ref, event.event_type, error)
            return [], []
        return reaction.clocks, list(reaction.events)

    async def _follow_queue_facts(
        self, event: TicketEvent, ticket: Document | None, session: Session
    ) -> None:
        """Every clock of the ticket shows its current team and assignees (the at-risk filter)."""
        queue = _queue_facts(event)
        if ticket is not None and ticket.get("queue") != queue:
            await self._database[CLOCKS].update_many(
                {"ticket_id": event.ticket_id}, {"$set": queue}, session=session
            )

    def _waiting_after(self, event: TicketEvent, ticket: Document | None) -> Waiting | None:
        """The new waiting state, or None when the event leaves it as it was."""
        current = waiting_of(ticket) if ticket is not None else None
        after = waiting.on_ticket_event(event, current, periods=self._periods, now=event.occurred_at)
        return None if after is current else after

    async def _save(self, changed: list[Clock], event: TicketEvent, session: Session) -> list[Timer]:
        latest = {clock.id: clock for clock in changed}  # a clock re-targeted then met: keep the last
        timers = []
        for clock in latest.values():
            timers.extend(await self._save_clock(clock, _queue_facts(event), session))
        return timers

    async def _save_ticket(
        self, event: TicketEvent, ticket: Document | None, changed: Waiting | None, session: Session
    ) -> None:
        update: dict[str, Any] = {
            "ref": event.ref,
            "sequence": event.sequence,
            "facts": _facts_document(_facts(event)),
            "queue": _queue_facts(event),
        }
        if changed is not None:
            update["waiting"] = waiting_document(changed)
        elif ticket is None:
            update["waiting"] = None
        await self._database[TICKETS].update_one(
            {"_id": event.ticket_id}, {"$set": update}, upsert=True, session=session
        )

    async def _save_waiting_timer(self, state: Waiting, session: Session) -> list[Timer]:
        return await self._set_timer(timer_id(TimerSubject.WAITING, state.ticket_id), state.timer(), session)

    async def _set_timer(self, timer_id: str, timer: Timer | None, session: Session) -> list[Timer]:
        if timer is None:
            await self._database[TIMERS].delete_one({"_id": timer_id}, session=session)
            return []
        document = timer_document(timer, shard=shard_of(timer.ticket_id, self._shards))
        await self._database[TIMERS].replace_one({"_id": timer.id}, document, upsert=True, session=session)
        return [timer]

    async def _publish(self, session: Session, events: Iterable[SlaEvent | SlaWaitingEvent]) -> None:
        await enqueue(
            self._database,
            session,
            *(encode_event(event, service="sla", key=event.ticket_id, subject=event.ref) for event in events),
        )

    def _after_commit(self, timers: list[Timer]) -> None:
        self._on_commit()
        if timers:
            self.on_timers_set([(timer, shard_of(timer.ticket_id, self._shards)) for timer in timers])

    # --- timers ----------------------------------------------------------------------------

    async def due_timers(
        self, shards: Iterable[int], *, until: datetime, limit: int
    ) -> list[tuple[Timer, int]]:
        """Timers of these shards due by `until`, soonest first."""
        query = {"at": {"$lte": until}, "shard": {"$in": sorted(shards)}}
        documents = await self._database[TIMERS].find(query).sort("at", ASCENDING).limit(limit).to_list()
        return [(timer_of(document), document["shard"]) for document in documents]

    async def fire(self, timers: Sequence[Timer]) -> list[Timer]:
        """Fire due timers once, all in one transaction: warn, breach, remind or auto-close.
        Returns those that fired. A timer whose subject changed since it was set, or that another
        replica fired first, does nothing; one left behind by such a change is removed."""
        batch = FiringBatch(self._shards)

        async def work(session: Session) -> list[Timer]:
            batch.clear()
            standing = await self._standing(timers, session)
            clock_ids = [t.subject_id for t in standing if t.subject is TimerSubject.CLOCK]
            ticket_ids = [t.ticket_id for t in standing if t.subject is TimerSubject.WAITING]
            stored_clocks = await self._by_id(CLOCKS, clock_ids, session)
            stored_tickets = await self._by_id(TICKETS, ticket_ids, session)
            for timer in standing:
                if timer.subject is TimerSubject.CLOCK:
                    batch.fire_clock(timer, stored_clocks.get(timer.subject_id))
                else:
                    batch.fire_waiting(timer, stored_tickets.get(timer.ticket_id))
            await batch.write(self._database, session)
            await self._publish(session, batch.events)
            return batch.fired

        fired = await run_in_transaction(self._client, work)
        if fired:
            self._after_commit(batch.next_timers)
        return fired

    async def _standing(self, timers: Sequence[Timer], session: Session) -> list[Timer]:
        """The timers still stored as they were set (same generation and kind)."""
        stored = await self._by_id(TIMERS, [timer.id for timer in timers], session)
        return [
            timer
            for timer in timers
            if timer.id in stored
            and (stored[timer.id]["generation"], stored[timer.id]["kind"])
            == (timer.generation, timer.kind.value)
        ]

    async def _by_id(self, collection: str, ids: list[str], session: Session) -> dict[str, Document]:
        if not ids:
            return {}
        found = await self._database[collection].find({"_id": {"$in": ids}}, session=session).to_list()
        return {document["_id"]: document for document in found}

    async def _save_clock(self, clock: Clock, facts: dict[str, Any], session: Session) -> list[Timer]:
        """Save a changed clock with the ticket facts the queue views filter on; set its next timer."""
        await self._database[CLOCKS].replace_one(
            {"_id": clock.id}, clock_document(clock, **facts), upsert=True, session=session
        )
        return await self._set_timer(timer_id(TimerSubject.CLOCK, clock.id), clock_timer(clock), session)

    # --- reading ---------------------------------------------------------------------------

    async def _clocks_of_ticket(self, ticket_id: str, session: Session | None = None) -> list[Clock]:
        documents = await self._database[CLOCKS].find({"ticket_id": ticket_id}, session=session).to_list()
        return [clock_of(document) for document in documents]

    async def clocks_of(self, ref_or_id: str) -> TicketClocks | None:
        """A ticket's clocks (by ref or id) with the calendars they count on."""
        documents = await self._database[CLOCKS].find({"ref": ref_or_id.upper()}).to_list()
        if not documents:
            documents = await self._database[CLOCKS].find({"ticket_id": ref_or_id}).to_list()
        if not documents:
            return None
        clocks = sorted((clock_of(document) for document in documents), key=lambda c: _TARGET_ORDER[c.target])
        calendars = {clock.calendar_id: await self._admin.calendar(clock.calendar_id) for clock in clocks}
        return TicketClocks(clocks[0].ticket_id, clocks[0].ref, clocks, calendars)

    async def at_risk(
        self, *, until: datetime, team: str | None, limit: int
    ) -> list[tuple[Clock, str | None, list[str]]]:
        """Running clocks due by `until` (overdue ones first), with the ticket's team and assignees."""
        query: dict[str, Any] = {"state": ClockState.RUNNING.value, "due_at": {"$lte": until}}
        if team is not None:
            query["team"] = team
        documents = await self._database[CLOCKS].find(query).sort("due_at", ASCENDING).limit(limit).to_list()
        return [
            (clock_of(document), document.get("team"), document.get("assignee_ids", []))
            for document in documents
        ]

    # --- policy changes --------------------------------------------------------------------

    async def apply_policy_to_running(self, policy: Policy, *, now: datetime) -> int:
        """Move the running and paused clocks of `policy` to its current targets; how many moved."""
        calendar = await self._admin.calendar(policy.calendar_id)
        live = [ClockState.RUNNING.value, ClockState.PAUSED.value]
        return await self._move_clocks(
            {"policy_id": policy.id, "state": {"$in": live}},
            lambda clock, own: domain.on_policy_change(clock, policy, calendar, counted_on=own, now=now),
        )

    async def apply_calendar_to_running(
        self, calendar_id: str, *, previous: BusinessCalendar, now: datetime
    ) -> int:
        """Reschedule the running clocks counting on an edited calendar; how many moved."""
        calendar = await self._admin.calendar(calendar_id)
        return await self._move_clocks(
            {"calendar_id": calendar_id, "state": ClockState.RUNNING.value},
            lambda clock, _: domain.on_calendar_change(clock, calendar, previous=previous, now=now),
        )

    async def _move_clocks(self, query: dict[str, Any], react: ClockMove) -> int:
        """One transaction per clock, so a large change never holds one huge transaction."""
        found = await self._database[CLOCKS].find(query, {"_id": 1}).to_list()
        moved = 0
        for document in found:
            moved += await self._move_clock(document["_id"], react)
        return moved

    async def _move_clock(self, clock_id: str, react: ClockMove) -> bool:
        written: list[Timer] = []

        async def work(session: Session) -> bool:
            written.clear()
            document = await self._database[CLOCKS].find_one({"_id": clock_id}, session=session)
            if document is None:
                return False
            clock = clock_of(document)
            try:
                reaction = react(clock, await self._admin.calendar(clock.calendar_id, session=session))
            except (CalendarError, OverflowError) as error:
                log.error("%s: SLA clock %s not moved: %s", clock.ref, clock.target.value, error)
                return False
            if not reaction.clocks:
                return False
            written.extend(await self._save_clock(reaction.clocks[-1], stored_facts(document), session))
            await self._publish(session, reaction.events)
            return True

        moved = await run_in_transaction(self._client, work)
        if moved:
            self._after_commit(written)
        return moved


_TARGET_ORDER = {SlaTarget.FIRST_RESPONSE: 0, SlaTarget.NEXT_RESPONSE: 1, SlaTarget.RESOLUTION: 2}


def _facts(event: TicketEvent) -> TicketFacts:
    tier = event.ticket.custom_fields.get(CUSTOMER_TIER_FIELD)
    return TicketFacts(
        priority=event.ticket.priority,
        customer_tier=tier if isinstance(tier, str) else None,
        category=event.ticket.category,
        team=event.ticket.assigned_team,
    )


def _queue_facts(event: TicketEvent) -> dict[str, Any]:
    return {"team": event.ticket.assigned_team, "assignee_ids": list(event.ticket.assignee_ids)}


def _facts_document(facts: TicketFacts) -> dict[str, Any]:
    return {
        "priority": facts.priority.value,
        "customer_tier": facts.customer_tier,
        "category": facts.category,
        "team": facts.team,
    }
