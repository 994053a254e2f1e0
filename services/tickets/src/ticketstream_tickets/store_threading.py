"""What threading reads and remembers in the tickets database.

`message_ids` maps every Message-ID the service has seen or sent (customers' emails, agents'
replies, notify's notification emails) to its ticket. The Message-ID is the document id, so one
Message-ID can never belong to two tickets; an inbound message's id is written in the same
transaction as its interaction, an agent reply's in the same transaction as the reply.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from pymongo import ASCENDING, DESCENDING, IndexModel

from ticketstream.contracts.events import InboundMessageReceived
from ticketstream.contracts.models import TicketSnapshot
from ticketstream.db import Database, Document, IndexPlan, Session
from ticketstream_tickets import domain, email_threading
from ticketstream_tickets.email_threading import (
    HintedTicket,
    KnownMessage,
    MessageKind,
    SenderRelation,
    ThreadingFacts,
)
from ticketstream_tickets.store_customers import CUSTOMERS
from ticketstream_tickets.store_documents import TICKETS, ticket_of

MESSAGE_IDS = "message_ids"

INDEXES: IndexPlan = {MESSAGE_IDS: [IndexModel([("ticket_id", ASCENDING)])]}


class ThreadIndex:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def known(self, session: Session, message_ids: Sequence[str]) -> dict[str, KnownMessage]:
        """Those of `message_ids` the service knows, each with its ticket."""
        wanted = [message_id for message_id in message_ids if message_id]
        if not wanted:
            return {}
        documents = await (
            self._database[MESSAGE_IDS].find({"_id": {"$in": wanted}}, session=session).to_list()
        )
        return {
            document["_id"]: KnownMessage(
                message_id=document["_id"],
                ticket_id=document["ticket_id"],
                ref=document["ref"],
                kind=MessageKind(document["kind"]),
            )
            for document in documents
        }

    async def remember(
        self,
        session: Session,
        *,
        message_id: str,
        ticket: TicketSnapshot,
        kind: MessageKind,
        now: datetime,
        interaction_id: str | None = None,
    ) -> None:
        """Record a Message-ID of `ticket` inside the caller's transaction. A Message-ID already
        recorded fails the transaction (duplicate key): the caller checked it was new."""
        await self._database[MESSAGE_IDS].insert_one(
            {
                "_id": email_threading.normalised_message_id(message_id),
                "ticket_id": ticket.id,
                "ref": ticket.ref,
                "kind": kind.value,
                "interaction_id": interaction_id,
                "recorded_at": now,
            },
            session=session,
        )

    async def remember_notification(
        self, *, message_id: str, ticket_id: str, ref: str, now: datetime
    ) -> bool:
        """Record the Message-ID of an email notify sent about a ticket (an acknowledgement, a
        check-in), so a reply to it threads. One document, written once whatever the redelivery;
        a Message-ID already known (an agent's reply) keeps what it was. True when it was new."""
        result = await self._database[MESSAGE_IDS].update_one(
            {"_id": email_threading.normalised_message_id(message_id)},
            {
                "$setOnInsert": {
                    "ticket_id": ticket_id,
                    "ref": ref,
                    "kind": MessageKind.NOTIFICATION.value,
                    "interaction_id": None,
                    "recorded_at": now,
                }
            },
            upsert=True,
        )
        return result.upserted_id is not None

    async def move(self, session: Session, *, message_id: str, to: TicketSnapshot) -> None:
        """A split moved the email with this Message-ID: replies to it follow it to `to`."""
        await self._database[MESSAGE_IDS].update_one(
            {"_id": email_threading.normalised_message_id(message_id)},
            {"$set": {"ticket_id": to.id, "ref": to.ref}},
            session=session,
        )

    async def facts(
        self, session: Session, event: InboundMessageReceived, *, known: Mapping[str, KnownMessage]
    ) -> ThreadingFacts:
        """What `email_threading.decide` needs about `event`, given the known Message-IDs among
        its candidates; read lazily: the thread root only when no header matched, the hinted
        tickets only when neither did."""
        if not email_threading.is_email(event):
            return ThreadingFacts(known={})
        if email_threading.header_match(event, known) is not None:
            return ThreadingFacts(known=known)
        sender_id = await self._sender_customer_id(session, event)
        root = await self._thread_root(session, event, sender_id)
        if root is not None and root.sender is not SenderRelation.STRANGER:
            return ThreadingFacts(known=known, thread_root=root)
        return ThreadingFacts(
            known=known, thread_root=root, hints=await self._hints(session, event, sender_id)
        )

    async def _sender_customer_id(self, session: Session, event: InboundMessageReceived) -> str | None:
        customer = await self._database[CUSTOMERS].find_one(
            {"email": event.sender.email.strip().lower()}, {"_id": 1}, session=session
        )
        return str(customer["_id"]) if customer else None

    async def _thread_root(
        self, session: Session, event: InboundMessageReceived, sender_id: str | None
    ) -> HintedTicket | None:
        # The newest ticket of the thread: a follow-up shares its closed ticket's root.
        document = await self._database[TICKETS].find_one(
            {"email_thread_id": event.email_thread_id}, sort=[("number", DESCENDING)], session=session
        )
        return self._hinted(document, event, sender_id) if document else None

    async def _hints(
        self, session: Session, event: InboundMessageReceived, sender_id: str | None
    ) -> dict[str, HintedTicket]:
        refs = {ref for _, ref in email_threading.hinted_refs(event)}
        if not refs:
            return {}
        numbers = [number for ref in refs if (number := domain.parse_ref(ref)) is not None]
        documents = (
            await self._database[TICKETS].find({"number": {"$in": numbers}}, session=session).to_list()
        )
        hinted = (self._hinted(document, event, sender_id) for document in documents)
        return {ticket.ref: ticket for ticket in hinted}

    @staticmethod
    def _hinted(document: Document, event: InboundMessageReceived, sender_id: str | None) -> HintedTicket:
        ticket = ticket_of(document)
        relation = email_threading.sender_relation(
            ticket, sender_email=event.sender.email, sender_customer_id=sender_id
        )
        return HintedTicket(ticket_id=ticket.id, ref=ticket.ref, sender=relation)

    async def latest_follow_up(self, session: Session, closed: TicketSnapshot) -> TicketSnapshot | None:
        """The newest follow-up of a closed ticket, if any: the conversation goes on there."""
        document = await self._database[TICKETS].find_one(
            {"follow_up_of": closed.ref}, sort=[("number", DESCENDING)], session=session
        )
        return ticket_of(document) if document else None
