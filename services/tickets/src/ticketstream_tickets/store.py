"""The tickets database: tickets, interactions, customers, the ref counter, inbox and outbox.

Every write here runs in one transaction with its outbox events (and, for consumed events, the
inbox claim), so state and events can never disagree.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument

from ticketstream.contracts import Envelope, encode_event
from ticketstream.contracts.events import (
    AttachmentRef,
    InboundChannel,
    InboundCsatSubmitted,
    InboundMessageReceived,
    InteractionSummary,
    NotifyDelivered,
    SlaBreached,
    SlaClockResumed,
    SlaClockRetargeted,
    SlaClockStarted,
    SlaEvent,
    SlaTarget,
    SlaWaitingAutoCloseDue,
    TicketCreated,
    TicketEvent,
    TicketInteractionAdded,
    TicketStatusChanged,
)
from ticketstream.contracts.models import InteractionType, Person, TicketSnapshot, TicketStatus
from ticketstream.db import Database, Document, IndexPlan, MongoClient, Session, run_in_transaction
from ticketstream.inbox import apply_once
from ticketstream.outbox import enqueue
from ticketstream_tickets import actions, delivery, domain, email_threading, intake, lifecycle, listing
from ticketstream_tickets.email_threading import MessageKind
from ticketstream_tickets.store_customers import CustomerStore
from ticketstream_tickets.store_documents import (
    ACTIVITY,
    COUNTERS,
    INTERACTIONS,
    TICKETS,
    interaction_document,
    interaction_of,
    ref_query,
    ticket_document,
    ticket_of,
)
from ticketstream_tickets.store_routing import RoutingStore
from ticketstream_tickets.store_threading import ThreadIndex
from ticketstream_tickets.store_vocabulary import VocabularyStore
from ticketstream_tickets.vocabulary import ManagedList

T = TypeVar("T")

TICKET_REF_COUNTER = "ticket_ref"
log = logging.getLogger(__name__)

CONSUMER = "tickets"
# SLA events whose due time is the clock's new due time (a pause has none until it resumes).
DUE_DATE_EVENTS = (SlaClockStarted, SlaClockRetargeted, SlaClockResumed)
MAX_REFERENCES = 20
# Hops from a merged or closed ticket to where its conversation continues; a chain longer than
# this is cut (the message lands on the last ticket reached).
MAX_REDIRECTS = 10

INDEXES: IndexPlan = {
    TICKETS: [
        IndexModel([("ref", ASCENDING)], unique=True),
        IndexModel([("number", DESCENDING)], unique=True),
        IndexModel([("email_thread_id", ASCENDING)], sparse=True),
        # Where a message on a closed ticket goes when the ticket already has a follow-up.
        IndexModel([("follow_up_of", ASCENDING), ("number", DESCENDING)], sparse=True),
        IndexModel([("assignee_ids", ASCENDING), ("status", ASCENDING)]),
        *(
            IndexModel([(field, ASCENDING), ("archived", ASCENDING), ("number", DESCENDING)])
            for field in listing.INDEXED_FILTERS
        ),
    ],
    INTERACTIONS: [
        IndexModel([("ticket_id", ASCENDING), ("created_at", ASCENDING)]),
        IndexModel([("message_id", ASCENDING)], sparse=True),
    ],
    ACTIVITY: [
        IndexModel([("actor", ASCENDING), ("at", DESCENDING)]),
        IndexModel([("ticket_id", ASCENDING), ("sequence", ASCENDING)]),
        IndexModel([("at", DESCENDING)]),
    ],
}


def _activity_document(step: lifecycle.Step, *, actor: str) -> Document:
    return {
        "_id": f"{step.ticket.id}:{step.ticket.version}",
        "ticket_id": step.ticket.id,
        "ref": step.ticket.ref,
        "sequence": step.ticket.version,
        "action": step.event.event_type,
        "actor": actor,
        "changes": [
            {"field": change.field, "before": _plain(change.before), "after": _plain(change.after)}
            for change in step.changes
        ],
        "at": step.event.occurred_at,
    }


def _routing_change(request: domain.NewTicket) -> tuple[lifecycle.FieldChange, ...]:
    return (lifecycle.FieldChange("routing_rule", None, request.routed_by),) if request.routed_by else ()


def _plain(value: object) -> object:
    """Enums and tuples as BSON-friendly values for the activity log."""
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if isinstance(value, StrEnum):
        return value.value
    return value


class TicketStore:
    def __init__(
        self,
        client: MongoClient,
        database: Database,
        *,
        on_commit: Callable[[], None],
        default_team: str,
        support_address: str,
        routing: RoutingStore,
        customers: CustomerStore,
        vocabulary: VocabularyStore,
        threads: ThreadIndex,
    ):
        self._client = client
        self._database = database
        self._on_commit = on_commit
        self._default_team = default_team
        self._routing = routing
        self._customers = customers
        self._vocabulary = vocabulary
        self._support_address = support_address
        self._threads = threads

    # --- writes ---------------------------------------------------------------------------

    async def create_ticket(self, request: domain.NewTicket, *, actor: str, now: datetime) -> TicketSnapshot:
        """Create a ticket (with its ref) and publish ticket.created, in one transaction."""

        async def work(session: Session) -> TicketSnapshot:
            vocabulary = await self._vocabulary.load(session)
            checked = vocabulary.checked_request(request)
            return await self._insert_ticket(session, checked, actor=actor, now=now, route=True)

        ticket = await run_in_transaction(self._client, work)
        self._on_commit()
        return ticket

    async def apply_inbound_message(
        self, envelope: Envelope, event: InboundMessageReceived, *, now: datetime
    ) -> TicketSnapshot | None:
        """Thread an inbound message onto its ticket, or open a ticket from it, saying why.

        `email_threading.decide` picks the ticket; a merged ticket hands the message on to the
        ticket it was merged into, a closed one to its newest follow-up. A customer's message
        reopens a resolved or waiting ticket and, on a closed one, opens a linked follow-up; an
        auto-reply is only recorded. A Message-ID seen before is never applied twice. Returns None
        when this event was applied before (redelivery).
        """

        async def work(session: Session) -> TicketSnapshot:
            own = email_threading.normalised_message_id(event.message_id)
            known = await self._threads.known(session, [own, *email_threading.candidates(event)])
            if (seen := known.get(own)) is not None:
                # The same email delivered again under another event id, or our own mail come back.
                log.warning("inbound %s is already the %s of %s: not applied again", own, seen.kind, seen.ref)
                return await self._current(session, seen.ticket_id)
            decision = email_threading.decide(event, await self._threads.facts(session, event, known=known))
            if decision.ticket_id is None:
                return await self._open_from_inbound(session, event, decision.reason, now=now)
            ticket, notes = await self._landing_ticket(session, decision.ticket_id)
            outcome, note = email_threading.landing(ticket, event)
            reason = email_threading.with_notes(decision.reason, [*notes, *([note] if note else [])])
            if outcome is email_threading.Landing.FOLLOW_UP:
                return await self._open_from_inbound(session, event, reason, follow_up_of=ticket, now=now)
            interactions = self._inbound_interactions(event, reason, now=now)
            steps = lifecycle.inbound_messages(
                ticket,
                interactions,
                counts_as_reply=outcome is email_threading.Landing.MESSAGE,
                actor=event.sender.email,
                now=now,
            )
            await self._insert_interactions(session, ticket.id, interactions)
            updated = await self._commit_steps(session, ticket, steps, actor=event.sender.email)
            await self._threads.remember(
                session,
                message_id=own,
                ticket=updated,
                kind=MessageKind.INBOUND,
                now=now,
                interaction_id=interactions[0].id,
            )
            return updated

        return await self._apply_event(envelope, work)

    async def remember_notification(self, event: NotifyDelivered, *, now: datetime) -> None:
        """Remember the Message-ID of an email notify delivered about a ticket (acknowledgement,
        check-in), so that the customer's answer to it threads onto the ticket."""
        if event.channel != "email" or not (event.message_id and event.ticket_id and event.ref):
            return
        await self._threads.remember_notification(
            message_id=event.message_id, ticket_id=event.ticket_id, ref=event.ref, now=now
        )

    def _inbound_interactions(
        self, event: InboundMessageReceived, reason: str, *, now: datetime
    ) -> list[InteractionSummary]:
        return intake.interactions(
            event,
            interaction_id=str(uuid.uuid4()),
            now=now,
            threading_reason=reason,
            support_address=self._support_address,
        )

    async def _open_from_inbound(
        self,
        session: Session,
        event: InboundMessageReceived,
        reason: str,
        *,
        now: datetime,
        follow_up_of: TicketSnapshot | None = None,
    ) -> TicketSnapshot:
        """A new ticket (or a closed ticket's follow-up) from an inbound message."""
        categories = (
            (await self._vocabulary.load(session)).categories
            if event.channel is InboundChannel.PORTAL
            else ManagedList()
        )
        opened = intake.new_ticket(event, support_address=self._support_address, categories=categories)
        auto_reply = email_threading.auto_reply_note(event)
        reason = email_threading.with_notes(reason, [*opened.notes, *([auto_reply] if auto_reply else [])])
        request = (
            opened.request if follow_up_of is None else lifecycle.follow_up_of(follow_up_of, opened.request)
        )
        interactions = self._inbound_interactions(event, reason, now=now)
        ticket = await self._insert_ticket(
            session,
            request,
            actor=event.sender.email,
            now=now,
            interactions=interactions,
            notes=(
                lifecycle.FieldChange("threading_reason", None, reason),
                *(lifecycle.FieldChange("intake_note", None, note) for note in opened.notes),
            ),
            route=follow_up_of is None,
        )
        await self._threads.remember(
            session,
            message_id=event.message_id,
            ticket=ticket,
            kind=MessageKind.INBOUND,
            now=now,
            interaction_id=interactions[0].id,
        )
        return ticket

    async def _landing_ticket(self, session: Session, ticket_id: str) -> tuple[TicketSnapshot, list[str]]:
        """The ticket a message for `ticket_id` lands on, and the hops on the way: a merged ticket's
        conversation continues where it was merged, a closed ticket's on its newest follow-up."""
        ticket = await self._current(session, ticket_id)
        notes: list[str] = []
        for _ in range(MAX_REDIRECTS):
            if ticket.merged_into:
                kept = await self._current(session, ticket.merged_into)
                notes.append(email_threading.merged_note(ticket, kept))
            elif ticket.status is TicketStatus.CLOSED and (
                follow_up := await self._threads.latest_follow_up(session, ticket)
            ):
                kept = follow_up
                notes.append(email_threading.follow_up_note(ticket, kept))
            else:
                break
            ticket = kept
        return ticket, notes

    async def apply_sla_event(
        self, envelope: Envelope, event: SlaEvent, *, now: datetime
    ) -> TicketSnapshot | None:
        """Stamp due_date from a clock started, re-targeted or resumed, and the first sla.breached."""

        async def work(session: Session) -> TicketSnapshot | None:
            document = await self._database[TICKETS].find_one({"_id": event.ticket_id}, session=session)
            if document is None:
                return None  # a clock of a ticket this deployment does not have
            ticket = ticket_of(document)
            steps = lifecycle.sla_stamp(
                ticket,
                now=now,
                due_date=event.due_at if isinstance(event, DUE_DATE_EVENTS) else None,
                due_is_resolution=event.target is SlaTarget.RESOLUTION,
                breached_at=event.occurred_at if isinstance(event, SlaBreached) else None,
            )
            return await self._commit_steps(session, ticket, steps, actor=lifecycle.SLA_ACTOR)

        return await self._apply_event(envelope, work)

    async def close_waiting_ticket(
        self, envelope: Envelope, event: SlaWaitingAutoCloseDue, *, now: datetime
    ) -> TicketSnapshot | None:
        """Close a ticket still waiting on its customer when the waiting period after the
        check-in ran out, with a staff-only system note; any other ticket is left as it is."""

        async def work(session: Session) -> TicketSnapshot | None:
            document = await self._database[TICKETS].find_one({"_id": event.ticket_id}, session=session)
            if document is None:
                return None
            ticket = ticket_of(document)
            steps = lifecycle.waiting_auto_close(
                ticket,
                waiting_since=event.waiting_since,
                status_changed_at=await self._status_changed_at(session, ticket),
                note_id=str(uuid.uuid4()),
                now=now,
            )
            if not steps:
                return ticket
            closed, _ = await self._commit_interaction(session, ticket, steps, actor=lifecycle.SLA_ACTOR)
            return closed

        return await self._apply_event(envelope, work)

    async def record_csat(
        self, envelope: Envelope, event: InboundCsatSubmitted, *, now: datetime
    ) -> TicketSnapshot | None:
        """A satisfaction answer: the ticket's csat and one staff-only FORM_SUBMISSION, both
        replaced by a later answer (never a second record); an older answer arriving late is ignored."""

        async def work(session: Session) -> TicketSnapshot | None:
            document = await self._database[TICKETS].find_one({"_id": event.ticket_id}, session=session)
            if document is None:
                log.warning("CSAT for unknown ticket %s (%s) ignored", event.ref, event.ticket_id)
                return None
            ticket = ticket_of(document)
            form = lifecycle.csat_form(
                ticket.id, event.csat, submitted_by=ticket.requester, submitted_at=event.submitted_at
            )
            earlier = await self._database[INTERACTIONS].find_one({"_id": form.id}, session=session)
            if earlier is not None and earlier["created_at"] > event.submitted_at:
                return None
            await self._database[INTERACTIONS].replace_one(
                {"_id": form.id}, interaction_document(ticket.id, form), upsert=True, session=session
            )
            actor = ticket.requester.email if ticket.requester else "customer"
            steps = lifecycle.csat_recorded(ticket, event.csat, actor=actor, now=now)
            return await self._commit_steps(session, ticket, steps, actor=actor)

        return await self._apply_event(envelope, work)

    async def record_delivery(
        self, envelope: Envelope, report: delivery.DeliveryReport, *, now: datetime
    ) -> TicketSnapshot | None:
        """Update an outbound email's delivery status. Reports about mail that is not a reply
        written here (acknowledgements, other services' mail) are skipped without a transaction.

        "sent" stays on the interaction and does not version the ticket: an agent's next edit
        must not fail with 412 because the relay accepted their reply. An undeliverable email
        is a change of the ticket: a system note, logged and published.
        """
        reply = {"message_id": report.message_id, "type": InteractionType.EMAIL_OUTBOUND.value}
        if await self._database[INTERACTIONS].find_one(reply, {"_id": 1}) is None:
            return None

        async def work(session: Session) -> TicketSnapshot | None:
            document = await self._database[INTERACTIONS].find_one(reply, session=session)
            if document is None:
                return None
            email = interaction_of(document)
            if not delivery.supersedes(report, email.delivery_status):
                return None
            await self._database[INTERACTIONS].update_one(
                {"_id": email.id},
                {"$set": {"delivery_status": report.status.value, "delivery_detail": report.detail}},
                session=session,
            )
            ticket = await self._current(session, document["ticket_id"])
            steps = delivery.undeliverable_steps(ticket, email, report, note_id=str(uuid.uuid4()), now=now)
            if not steps:
                return ticket
            updated, _ = await self._commit_interaction(session, ticket, steps, actor=delivery.DELIVERY_ACTOR)
            return updated

        return await self._apply_event(envelope, work)

    async def update_ticket(
        self,
        ref_or_id: str,
        patch: lifecycle.TicketPatch,
        *,
        expected_version: int,
        actor: str,
        now: datetime,
    ) -> TicketSnapshot:
        """An agent's edit, applied only to the version the agent saw (else StaleTicketError)."""

        async def work(session: Session) -> TicketSnapshot:
            ticket = await self._current(session, ref_or_id, expected_version=expected_version)
            vocabulary = await self._vocabulary.load(session)
            steps = lifecycle.apply_patch(
                ticket, vocabulary.checked_patch(ticket, patch), actor=actor, now=now
            )
            if steps:
                vocabulary.check_resolvable(ticket, steps[-1].ticket)
            return await self._commit_steps(session, ticket, steps, actor=actor)

        return await self._run(work)

    async def add_public_reply(
        self,
        ref_or_id: str,
        *,
        body: str,
        author: Person,
        author_id: str,
        message_domain: str,
        now: datetime,
        attachments: Sequence[AttachmentRef] = (),
    ) -> tuple[TicketSnapshot, InteractionSummary]:
        async def work(session: Session) -> tuple[TicketSnapshot, InteractionSummary]:
            ticket = await self._current(session, ref_or_id)
            steps = lifecycle.public_reply(
                ticket,
                body=body,
                author=author,
                author_id=author_id,
                interaction_id=str(uuid.uuid4()),
                message_domain=message_domain,
                thread=await self._email_thread(session, ticket),
                now=now,
                attachments=attachments,
            )
            updated, reply = await self._commit_interaction(session, ticket, steps, actor=author_id)
            if reply.message_id:
                # The customer's answer will name this Message-ID in In-Reply-To or References.
                await self._threads.remember(
                    session,
                    message_id=reply.message_id,
                    ticket=updated,
                    kind=MessageKind.OUTBOUND,
                    now=now,
                    interaction_id=reply.id,
                )
            return updated, reply

        return await self._run(work)

    async def add_internal_note(
        self,
        ref_or_id: str,
        *,
        body: str,
        author: Person,
        author_id: str,
        now: datetime,
        attachments: Sequence[AttachmentRef] = (),
    ) -> tuple[TicketSnapshot, InteractionSummary]:
        async def work(session: Session) -> tuple[TicketSnapshot, InteractionSummary]:
            ticket = await self._current(session, ref_or_id)
            steps = lifecycle.internal_note(
                ticket,
                body=body,
                author=author,
                author_id=author_id,
                interaction_id=str(uuid.uuid4()),
                now=now,
                attachments=attachments,
            )
            return await self._commit_interaction(session, ticket, steps, actor=author_id)

        return await self._run(work)

    async def log_contact(
        self,
        ref_or_id: str,
        contact: lifecycle.LoggedContact,
        *,
        author: Person,
        author_id: str,
        now: datetime,
    ) -> tuple[TicketSnapshot, InteractionSummary]:
        async def work(session: Session) -> tuple[TicketSnapshot, InteractionSummary]:
            ticket = await self._current(session, ref_or_id)
            steps = lifecycle.logged_contact(
                ticket, contact, author=author, author_id=author_id, interaction_id=str(uuid.uuid4()), now=now
            )
            return await self._commit_interaction(session, ticket, steps, actor=author_id)

        return await self._run(work)

    async def add_customer_message(
        self, ref_or_id: str, *, body: str, author: Person, now: datetime
    ) -> tuple[TicketSnapshot, InteractionSummary]:
        """A reply written in the customer portal (PORTAL_MESSAGE)."""

        async def work(session: Session) -> tuple[TicketSnapshot, InteractionSummary]:
            ticket = await self._current(session, ref_or_id)
            interaction = lifecycle.portal_message(
                body=body, author=author, interaction_id=str(uuid.uuid4()), now=now
            )
            if ticket.status is TicketStatus.CLOSED:
                raise domain.DomainError(f"{ticket.ref} is closed; please open a new request")
            steps = lifecycle.customer_message(ticket, interaction, actor=author.email, now=now)
            return await self._commit_interaction(session, ticket, steps, actor=author.email)

        return await self._run(work)

    async def escalate(
        self, ref_or_id: str, *, reason: str, to_level: int | None, actor: str, now: datetime
    ) -> TicketSnapshot:
        async def work(session: Session) -> TicketSnapshot:
            ticket = await self._current(session, ref_or_id)
            steps = actions.escalate(ticket, reason=reason, to_level=to_level, actor=actor, now=now)
            return await self._commit_steps(session, ticket, steps, actor=actor)

        return await self._run(work)

    async def archive(self, ref_or_id: str, *, actor: str, now: datetime) -> TicketSnapshot:
        async def work(session: Session) -> TicketSnapshot:
            ticket = await self._current(session, ref_or_id)
            return await self._commit_steps(
                session, ticket, actions.archive(ticket, actor=actor, now=now), actor=actor
            )

        return await self._run(work)

    async def merge(
        self, ref_or_id: str, *, into: str, actor: str, now: datetime
    ) -> tuple[TicketSnapshot, TicketSnapshot]:
        """Close `ref_or_id` as a duplicate of `into`; its interactions and contacts move there."""

        async def work(session: Session) -> tuple[TicketSnapshot, TicketSnapshot]:
            duplicate = await self._current(session, ref_or_id)
            target = await self._current(session, into)
            duplicate_steps, target_steps, (duplicate_note, target_note) = actions.merge(
                duplicate, target, actor=actor, now=now, note_ids=(str(uuid.uuid4()), str(uuid.uuid4()))
            )
            await self._database[INTERACTIONS].update_many(
                {"ticket_id": duplicate.id}, {"$set": {"ticket_id": target.id}}, session=session
            )
            await self._insert_interaction(session, duplicate.id, duplicate_note)
            await self._insert_interaction(session, target.id, target_note)
            merged = await self._commit_steps(session, duplicate, duplicate_steps, actor=actor)
            grown = await self._commit_steps(session, target, target_steps, actor=actor)
            return merged, grown

        return await self._run(work)

    async def split(
        self, ref_or_id: str, *, interaction_id: str, title: str | None, actor: str, now: datetime
    ) -> tuple[TicketSnapshot, TicketSnapshot]:
        """An interaction becomes a new ticket linked to the original (split_from)."""

        async def work(session: Session) -> tuple[TicketSnapshot, TicketSnapshot]:
            original = await self._current(session, ref_or_id)
            document = await self._database[INTERACTIONS].find_one(
                {"_id": interaction_id, "ticket_id": original.id}, session=session
            )
            if document is None:
                raise InteractionNotFoundError(interaction_id)
            request = actions.split(original, interaction_of(document), title=title)
            new_ticket = await self._insert_ticket(session, request, actor=actor, now=now)
            await self._database[INTERACTIONS].update_one(
                {"_id": interaction_id}, {"$set": {"ticket_id": new_ticket.id}}, session=session
            )
            if document.get("message_id"):
                await self._threads.move(session, message_id=document["message_id"], to=new_ticket)
            steps = actions.split_step(original, new_ticket=new_ticket, actor=actor, now=now)
            return await self._commit_steps(session, original, steps, actor=actor), new_ticket

        return await self._run(work)

    async def _apply_event(
        self, envelope: Envelope, work: Callable[[Session], Awaitable[TicketSnapshot | None]]
    ) -> TicketSnapshot | None:
        """Apply a consumed event at most once (its id is recorded with the change)."""
        ticket = await apply_once(self._client, self._database, envelope, consumer=CONSUMER, work=work)
        if ticket is not None:
            self._on_commit()
        return ticket

    async def _run(self, work: Callable[[Session], Awaitable[T]]) -> T:
        result = await run_in_transaction(self._client, work)
        self._on_commit()
        return result

    async def _current(
        self, session: Session, ref_or_id: str, *, expected_version: int | None = None
    ) -> TicketSnapshot:
        document = await self._database[TICKETS].find_one(ref_query(ref_or_id), session=session)
        if document is None:
            raise TicketNotFoundError(ref_or_id)
        ticket = ticket_of(document)
        if expected_version is not None and ticket.version != expected_version:
            raise StaleTicketError(ticket.ref, current_version=ticket.version)
        return ticket

    async def _commit_interaction(
        self, session: Session, ticket: TicketSnapshot, steps: list[lifecycle.Step], *, actor: str
    ) -> tuple[TicketSnapshot, InteractionSummary]:
        interaction = next(
            step.event.interaction for step in steps if isinstance(step.event, TicketInteractionAdded)
        )
        await self._insert_interaction(session, ticket.id, interaction)
        return await self._commit_steps(session, ticket, steps, actor=actor), interaction

    async def _commit_steps(
        self, session: Session, before: TicketSnapshot, steps: list[lifecycle.Step], *, actor: str
    ) -> TicketSnapshot:
        """Save the final ticket (guarded by the version read), log and publish every step."""
        if not steps:
            return before
        final = steps[-1].ticket
        await self._save(session, final, expected_version=before.version)
        await self._database[ACTIVITY].insert_many(
            [_activity_document(step, actor=actor) for step in steps], session=session
        )
        await enqueue(
            self._database,
            session,
            *(encode_event(step.event, service="tickets", key=final.id, subject=final.ref) for step in steps),
        )
        return final

    async def _status_changed_at(self, session: Session, ticket: TicketSnapshot) -> datetime:
        """When the ticket last changed status (its creation if it never did), from its log."""
        entry = await self._database[ACTIVITY].find_one(
            {"ticket_id": ticket.id, "action": TicketStatusChanged.event_type},
            sort=[("sequence", DESCENDING)],
            session=session,
        )
        return entry["at"] if entry else ticket.created_at

    async def _email_thread(self, session: Session, ticket: TicketSnapshot) -> list[str]:
        """Message-IDs of the ticket's emails, oldest first (References of the next reply)."""
        documents = (
            await self._database[INTERACTIONS]
            .find({"ticket_id": ticket.id, "message_id": {"$ne": None}}, {"message_id": 1}, session=session)
            .sort("created_at", 1)
            .to_list()
        )
        thread = [ticket.email_thread_id] if ticket.email_thread_id else []
        thread += [d["message_id"] for d in documents if d["message_id"] not in thread]
        return thread[-MAX_REFERENCES:]

    async def _insert_ticket(
        self,
        session: Session,
        request: domain.NewTicket,
        *,
        actor: str,
        now: datetime,
        interactions: Sequence[InteractionSummary] = (),
        notes: Sequence[lifecycle.FieldChange] = (),
        route: bool = False,
    ) -> TicketSnapshot:
        """Insert a new ticket with its ref, customer, first interactions, log entry and event.

        `route`: apply the routing rules (new requests; follow-ups and splits keep their team).
        `notes`: how the ticket came to be, for its first activity log entry.
        """
        if route:
            request = await self._routing.route(session, request)
        if request.assigned_team is None:
            request = replace(request, assigned_team=self._default_team)
        customer = (
            await self._customers.customer_for(session, request.requester, now=now)
            if request.requester
            else None
        )
        cc_contacts = [await self._customers.customer_for(session, person, now=now) for person in request.cc]
        number = await self._next_ticket_number(session)
        ticket = domain.open_ticket(
            request,
            ticket_id=str(uuid.uuid4()),
            number=number,
            customer_id=customer["_id"] if customer else None,
            organisation_id=customer.get("organisation_id") if customer else None,
            cc_contact_ids=[contact["_id"] for contact in cc_contacts],
            now=now,
        )
        await self._database[TICKETS].insert_one(ticket_document(ticket), session=session)
        await self._insert_interactions(session, ticket.id, interactions)
        created = lifecycle.versioned(
            TicketCreated,
            ticket,
            actor=actor,
            now=now,
            first_interaction=interactions[0] if interactions else None,
        )
        changes = (*_routing_change(request), *notes)
        await self._database[ACTIVITY].insert_one(
            _activity_document(lifecycle.Step(ticket, created, changes), actor=actor), session=session
        )
        await self._publish(session, created)
        return ticket

    async def _next_ticket_number(self, session: Session) -> int:
        """Gap-free: the increment commits or aborts with the ticket that uses it."""
        counter = await self._database[COUNTERS].find_one_and_update(
            {"_id": TICKET_REF_COUNTER},
            {"$inc": {"value": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        assert counter is not None, "an upsert returning the document after always finds one"
        return int(counter["value"])

    async def _insert_interaction(
        self, session: Session, ticket_id: str, interaction: InteractionSummary
    ) -> None:
        await self._database[INTERACTIONS].insert_one(
            interaction_document(ticket_id, interaction), session=session
        )

    async def _insert_interactions(
        self, session: Session, ticket_id: str, interactions: Sequence[InteractionSummary]
    ) -> None:
        if interactions:
            await self._database[INTERACTIONS].insert_many(
                [interaction_document(ticket_id, interaction) for interaction in interactions],
                session=session,
            )

    async def _save(self, session: Session, ticket: TicketSnapshot, *, expected_version: int) -> None:
        result = await self._database[TICKETS].replace_one(
            {"_id": ticket.id, "version": expected_version}, ticket_document(ticket), session=session
        )
        if result.matched_count != 1:
            raise StaleTicketError(ticket.ref, current_version=None)

    async def _publish(self, session: Session, event: TicketEvent) -> None:
        await enqueue(
            self._database,
            session,
            encode_event(event, service="tickets", key=event.ticket_id, subject=event.ref),
        )

    # --- reads ----------------------------------------------------------------------------

    async def get(self, ref_or_id: str) -> TicketSnapshot | None:
        document = await self._database[TICKETS].find_one(ref_query(ref_or_id))
        return ticket_of(document) if document else None

    async def activity_log(
        self,
        *,
        start: datetime | None,
        end: datetime | None,
        actor: str | None,
        action: str | None,
        limit: int,
    ) -> list[Document]:
        """Every ticket's changes, newest first, narrowed by time, actor and action."""
        query: dict[str, Any] = listing.time_range("at", start, end)
        if actor:
            query["actor"] = actor
        if action:
            query["action"] = action
        return (
            await self._database[ACTIVITY]
            .find(query, {"_id": 0})
            .sort("at", DESCENDING)
            .limit(limit)
            .to_list()
        )

    async def activity(self, ticket_id: str) -> list[Document]:
        return (
            await self._database[ACTIVITY]
            .find({"ticket_id": ticket_id}, {"_id": 0})
            .sort("sequence", 1)
            .to_list()
        )

    async def interactions(self, ticket_id: str, *, customer_visible_only: bool) -> list[InteractionSummary]:
        query: dict[str, Any] = {"ticket_id": ticket_id}
        if customer_visible_only:
            # Filtered in the query: non-visible interactions never leave the database.
            query["customer_visible"] = True
        # Ties (chat lines sent in the same millisecond) keep their order by id (see intake).
        documents = (
            await self._database[INTERACTIONS].find(query).sort([("created_at", 1), ("_id", 1)]).to_list()
        )
        return [interaction_of(document) for document in documents]


class InteractionNotFoundError(LookupError):
    """No such interaction on this ticket."""


class TicketNotFoundError(LookupError):
    """No ticket has this ref or id (or the caller may not see it)."""


class StaleTicketError(Exception):
    """The ticket changed since the caller read it."""

    def __init__(self, ref: str, *, current_version: int | None) -> None:
        super().__init__(f"{ref} was changed by someone else; reload it and apply your change again")
        self.current_version = current_version
