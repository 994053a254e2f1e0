"""The tickets database: tickets, interactions, customers, the ref counter, inbox and outbox.

Every write here runs in one transaction with its outbox events (and, for consumed events, the
inbox claim), so state and events can never disagree.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument

from ticketstream.contracts import Envelope, encode_event
from ticketstream.contracts.events import (
    InboundMessageReceived,
    InteractionSummary,
    TicketCreated,
    TicketEvent,
    TicketInteractionAdded,
)
from ticketstream.contracts.models import Person, TicketSnapshot, TicketStatus
from ticketstream.db import Database, Document, IndexPlan, MongoClient, Session, run_in_transaction
from ticketstream.inbox import apply_once
from ticketstream.outbox import enqueue
from ticketstream_tickets import domain

TICKETS = "tickets"
INTERACTIONS = "interactions"
CUSTOMERS = "customers"
COUNTERS = "counters"
TICKET_REF_COUNTER = "ticket_ref"
CONSUMER = "tickets"
MIN_PAGE_WINDOW = 256

INDEXES: IndexPlan = {
    TICKETS: [
        IndexModel([("ref", ASCENDING)], unique=True),
        IndexModel([("number", DESCENDING)], unique=True),
        IndexModel([("email_thread_id", ASCENDING)], sparse=True),
        IndexModel([("status", ASCENDING), ("number", DESCENDING)]),
        IndexModel([("priority", ASCENDING), ("number", DESCENDING)]),
        IndexModel([("customer_id", ASCENDING), ("number", DESCENDING)]),
    ],
    INTERACTIONS: [
        IndexModel([("ticket_id", ASCENDING), ("created_at", ASCENDING)]),
        IndexModel([("message_id", ASCENDING)], sparse=True),
    ],
    CUSTOMERS: [IndexModel([("email", ASCENDING)], unique=True)],
}


@dataclass(frozen=True)
class TicketPage:
    items: list[TicketSnapshot]
    next_cursor: str | None


@dataclass(frozen=True)
class TicketFilter:
    status: TicketStatus | None = None
    priority: str | None = None
    customer_id: str | None = None


def _ticket_document(ticket: TicketSnapshot) -> Document:
    document = ticket.model_dump(mode="python")
    document["_id"] = document.pop("id")
    number = domain.parse_ref(ticket.ref)
    document["number"] = number
    return document


def _ticket_of(document: Document) -> TicketSnapshot:
    fields = {key: value for key, value in document.items() if key not in {"_id", "number"}}
    return TicketSnapshot.model_validate({"id": document["_id"], **fields})


def _interaction_of(document: Document) -> InteractionSummary:
    fields = {key: value for key, value in document.items() if key not in {"_id", "ticket_id"}}
    return InteractionSummary.model_validate({"id": document["_id"], **fields})


class TicketStore:
    def __init__(self, client: MongoClient, database: Database, *, on_commit: Callable[[], None]):
        self._client = client
        self._database = database
        self._on_commit = on_commit

    # --- writes ---------------------------------------------------------------------------

    async def create_ticket(self, request: domain.NewTicket, *, actor: str, now: datetime) -> TicketSnapshot:
        """Create a ticket (with its ref) and publish ticket.created, in one transaction."""

        async def work(session: Session) -> TicketSnapshot:
            ticket, _ = await self._insert_ticket(session, request, actor=actor, now=now)
            return ticket

        ticket = await run_in_transaction(self._client, work)
        self._on_commit()
        return ticket

    async def apply_inbound_message(
        self, envelope: Envelope, event: InboundMessageReceived, *, now: datetime
    ) -> TicketSnapshot | None:
        """Turn an inbound email into a new ticket, or a new interaction of its thread's ticket.

        Returns None when this event was applied before (redelivery).
        """

        async def work(session: Session) -> TicketSnapshot:
            interaction = domain.inbound_interaction(event, interaction_id=str(uuid.uuid4()), now=now)
            existing = await self._database[TICKETS].find_one(
                {"email_thread_id": event.email_thread_id}, session=session
            )
            if existing is None:
                request = domain.new_ticket_from_email(event)
                ticket, _ = await self._insert_ticket(
                    session, request, actor=event.sender.email, now=now, first_interaction=interaction
                )
                return ticket
            ticket = domain.touch(_ticket_of(existing), now=now)
            await self._save(session, ticket, expected_version=ticket.version - 1)
            await self._insert_interaction(session, ticket.id, interaction)
            await self._publish(
                session,
                TicketInteractionAdded(
                    ticket_id=ticket.id,
                    ref=ticket.ref,
                    sequence=ticket.version,
                    actor=event.sender.email,
                    occurred_at=now,
                    ticket=ticket,
                    interaction=interaction,
                ),
            )
            return ticket

        ticket = await apply_once(self._client, self._database, envelope, consumer=CONSUMER, work=work)
        if ticket is not None:
            self._on_commit()
        return ticket

    async def _insert_ticket(
        self,
        session: Session,
        request: domain.NewTicket,
        *,
        actor: str,
        now: datetime,
        first_interaction: InteractionSummary | None = None,
    ) -> tuple[TicketSnapshot, str | None]:
        customer_id = await self._customer_of(session, request.requester, now=now)
        number = await self._next_ticket_number(session)
        ticket = domain.open_ticket(
            request, ticket_id=str(uuid.uuid4()), number=number, customer_id=customer_id, now=now
        )
        await self._database[TICKETS].insert_one(_ticket_document(ticket), session=session)
        if first_interaction is not None:
            await self._insert_interaction(session, ticket.id, first_interaction)
        await self._publish(
            session,
            TicketCreated(
                ticket_id=ticket.id, ref=ticket.ref, sequence=1, actor=actor, occurred_at=now, ticket=ticket
            ),
        )
        return ticket, customer_id

    async def _customer_of(self, session: Session, requester: Person | None, *, now: datetime) -> str | None:
        if requester is None:
            return None
        customer = await self._database[CUSTOMERS].find_one_and_update(
            {"email": requester.email},
            {
                "$setOnInsert": {"_id": str(uuid.uuid4()), "email": requester.email, "created_at": now},
                "$max": {"last_seen_at": now},
            },
            upsert=True,
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        assert customer is not None, "an upsert returning the document after always finds one"
        if requester.name and not customer.get("name"):
            await self._database[CUSTOMERS].update_one(
                {"_id": customer["_id"]}, {"$set": {"name": requester.name}}, session=session
            )
        return str(customer["_id"])

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
        document = interaction.model_dump(mode="python")
        document["_id"] = document.pop("id")
        document["ticket_id"] = ticket_id
        await self._database[INTERACTIONS].insert_one(document, session=session)

    async def _save(self, session: Session, ticket: TicketSnapshot, *, expected_version: int) -> None:
        result = await self._database[TICKETS].replace_one(
            {"_id": ticket.id, "version": expected_version}, _ticket_document(ticket), session=session
        )
        if result.matched_count != 1:
            raise StaleTicketError(ticket.ref)

    async def _publish(self, session: Session, event: TicketEvent) -> None:
        await enqueue(
            self._database,
            session,
            encode_event(event, service="tickets", key=event.ticket_id, subject=event.ref),
        )

    # --- reads ----------------------------------------------------------------------------

    async def get(self, ref_or_id: str) -> TicketSnapshot | None:
        number = domain.parse_ref(ref_or_id)
        query: dict[str, Any] = {"number": number} if number is not None else {"_id": ref_or_id}
        document = await self._database[TICKETS].find_one(query)
        return _ticket_of(document) if document else None

    async def interactions(self, ticket_id: str, *, customer_visible_only: bool) -> list[InteractionSummary]:
        query: dict[str, Any] = {"ticket_id": ticket_id}
        if customer_visible_only:
            # Filtered in the query: non-visible interactions never leave the database.
            query["customer_visible"] = True
        documents = await self._database[INTERACTIONS].find(query).sort("created_at", 1).to_list()
        return [_interaction_of(document) for document in documents]

    async def list(self, filters: TicketFilter, *, limit: int, cursor: int | None) -> TicketPage:
        """Newest first; the cursor is the last ticket number of the previous page.

        Ticket numbers are dense (gap-free refs), so a page is read as bounded number windows
        walking down from the cursor, growing while filters leave them short. Each query is an
        index range, so a page costs the same at ticket 100 as at ticket 100,000.
        """
        query: dict[str, Any] = {}
        if filters.status is not None:
            query["status"] = filters.status.value
        if filters.priority is not None:
            query["priority"] = filters.priority
        if filters.customer_id is not None:
            query["customer_id"] = filters.customer_id
        upper = cursor if cursor is not None else await self._highest_ticket_number() + 1
        window = max(4 * (limit + 1), MIN_PAGE_WINDOW)
        documents: list[Document] = []
        while upper > 1 and len(documents) <= limit:
            lower = max(upper - window, 1)
            documents += (
                await self._database[TICKETS]
                .find({**query, "number": {"$gte": lower, "$lt": upper}})
                .sort("number", DESCENDING)
                .limit(limit + 1 - len(documents))
                .to_list()
            )
            upper, window = lower, window * 4
        has_more = len(documents) > limit
        documents = documents[:limit]
        next_cursor = str(documents[-1]["number"]) if has_more and documents else None
        return TicketPage([_ticket_of(document) for document in documents], next_cursor)

    async def _highest_ticket_number(self) -> int:
        counter = await self._database[COUNTERS].find_one({"_id": TICKET_REF_COUNTER})
        return int(counter["value"]) if counter else 0


class StaleTicketError(Exception):
    """The ticket changed since it was read; the transaction is retried or the caller told."""
