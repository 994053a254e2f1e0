"""Customers and organisations in the tickets database, published on ticketstream.directory.v1.

A customer is found or created by email address; it joins the organisation that lists its email
domain, unless the domain is a free-mail provider's (a gmail.com address says nothing about who
someone works for).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel, ReturnDocument

from ticketstream.contracts import encode_event
from ticketstream.contracts.addressing import domain_of, is_free_mail
from ticketstream.contracts.events import DirectoryCustomer
from ticketstream.contracts.models import Person
from ticketstream.db import Database, Document, IndexPlan, MongoClient, Session, run_in_transaction
from ticketstream.outbox import enqueue
from ticketstream_tickets.domain import CustomerViewer, DomainError

CUSTOMERS = "customers"
ORGANISATIONS = "organisations"

INDEXES: IndexPlan = {
    CUSTOMERS: [
        IndexModel([("email", ASCENDING)], unique=True),
        IndexModel([("organisation_id", ASCENDING)]),
    ],
    ORGANISATIONS: [IndexModel([("domains", ASCENDING)])],
}


def _customer_event(customer: Document, *, now: datetime) -> DirectoryCustomer:
    return DirectoryCustomer(
        id=str(customer["_id"]),
        email=customer["email"],
        name=customer.get("name"),
        organisation_id=customer.get("organisation_id"),
        tier=customer.get("tier"),
        occurred_at=now,
    )


class CustomerStore:
    def __init__(self, client: MongoClient, database: Database, *, on_commit: Callable[[], None]) -> None:
        self._client = client
        self._database = database
        self._on_commit = on_commit

    async def customer_for(self, session: Session, person: Person, *, now: datetime) -> Document:
        """Find or create the customer of `person` inside the caller's transaction."""
        existing = await self._database[CUSTOMERS].find_one({"email": person.email}, session=session)
        if existing is not None:
            if person.name and not existing.get("name"):
                existing["name"] = person.name
                await self._database[CUSTOMERS].update_one(
                    {"_id": existing["_id"]}, {"$set": {"name": person.name}}, session=session
                )
                await self._publish(session, existing, now=now)
            return existing
        organisation = None
        if not is_free_mail(person.email):
            organisation = await self._database[ORGANISATIONS].find_one(
                {"domains": domain_of(person.email)}, session=session
            )
        customer = {
            "_id": str(uuid.uuid4()),
            "email": person.email,
            "name": person.name,
            "organisation_id": organisation["_id"] if organisation else None,
            "tier": organisation.get("tier") if organisation else None,
            "created_at": now,
        }
        await self._database[CUSTOMERS].insert_one(customer, session=session)
        await self._publish(session, customer, now=now)
        return customer

    async def viewer_for(self, email: str) -> CustomerViewer:
        """What a signed-in customer may see: their organisation's tickets only when granted."""
        customer = await self._database[CUSTOMERS].find_one({"email": email.lower()})
        if customer is None or not customer.get("sees_organisation_tickets", False):
            return CustomerViewer(email=email.lower())
        return CustomerViewer(email=email.lower(), organisation_id=customer.get("organisation_id"))

    async def _publish(self, session: Session, customer: Document, *, now: datetime) -> None:
        event = _customer_event(customer, now=now)
        await enqueue(self._database, session, encode_event(event, service="tickets", key=event.id))

    # --- administration ---------------------------------------------------------------------

    async def list_customers(
        self, *, email: str | None, organisation_id: str | None, limit: int
    ) -> list[Document]:
        query: dict[str, Any] = {}
        if email:
            query["email"] = email.lower()
        if organisation_id:
            query["organisation_id"] = organisation_id
        return await self._database[CUSTOMERS].find(query).sort("email", ASCENDING).limit(limit).to_list()

    async def get_customer(self, customer_id: str) -> Document | None:
        return await self._database[CUSTOMERS].find_one({"_id": customer_id})

    async def update_customer(
        self, customer_id: str, changes: dict[str, Any], *, now: datetime
    ) -> Document | None:
        organisation_id = changes.get("organisation_id")
        if organisation_id is not None and await self.get_organisation(organisation_id) is None:
            raise DomainError(f"no organisation {organisation_id}")
        if changes.get("sees_organisation_tickets"):
            current = await self.get_customer(customer_id)
            if current is not None and not (organisation_id or current.get("organisation_id")):
                raise DomainError("a customer without an organisation cannot be granted its tickets")

        async def work(session: Session) -> Document | None:
            customer = await self._database[CUSTOMERS].find_one_and_update(
                {"_id": customer_id},
                {"$set": {**changes, "updated_at": now}},
                return_document=ReturnDocument.AFTER,
                session=session,
            )
            if customer is not None:
                await self._publish(session, customer, now=now)
            return customer

        customer = await run_in_transaction(self._client, work)
        self._on_commit()
        return customer

    async def put_organisation(
        self, organisation_id: str, *, name: str, domains: list[str], tier: str | None, now: datetime
    ) -> Document:
        clean = sorted({domain.strip().lower().lstrip("@") for domain in domains if domain.strip()})
        free = [domain for domain in clean if is_free_mail(domain)]
        if free:
            raise DomainError(
                "free-mail domains cannot identify an organisation", {"free_mail_domains": free}
            )
        claimed = await self._database[ORGANISATIONS].find_one(
            {"domains": {"$in": clean}, "_id": {"$ne": organisation_id}}
        )
        if claimed is not None:
            taken = sorted(set(clean) & set(claimed["domains"]))
            raise DomainError(
                f"organisation {claimed['_id']} already claims {', '.join(taken)}", {"domains": taken}
            )
        document = {"_id": organisation_id, "name": name, "domains": clean, "tier": tier, "updated_at": now}
        await self._database[ORGANISATIONS].replace_one({"_id": organisation_id}, document, upsert=True)
        return document

    async def list_organisations(self) -> list[Document]:
        return await self._database[ORGANISATIONS].find().sort("name", ASCENDING).to_list()

    async def get_organisation(self, organisation_id: str) -> Document | None:
        return await self._database[ORGANISATIONS].find_one({"_id": organisation_id})
