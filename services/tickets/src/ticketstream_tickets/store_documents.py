"""How tickets and interactions are stored: collection names and document mapping, shared by the
tickets service's store modules (the only modules that touch its database)."""

from __future__ import annotations

from typing import Any

from ticketstream.contracts.events import InteractionSummary
from ticketstream.contracts.models import TicketSnapshot
from ticketstream.db import Document
from ticketstream_tickets import domain, listing

TICKETS = "tickets"
INTERACTIONS = "interactions"
ACTIVITY = "activity"
COUNTERS = "counters"
STORAGE_ONLY_FIELDS = frozenset({"_id", "number", "search_terms"})


def ticket_document(ticket: TicketSnapshot) -> Document:
    document = ticket.model_dump(mode="python")
    document["_id"] = document.pop("id")
    number = domain.parse_ref(ticket.ref)
    document["number"] = number
    document["search_terms"] = listing.search_terms_of(ticket)
    return document


def ref_query(ref_or_id: str) -> dict[str, Any]:
    number = domain.parse_ref(ref_or_id)
    return {"number": number} if number is not None else {"_id": ref_or_id}


def ticket_of(document: Document) -> TicketSnapshot:
    fields = {key: value for key, value in document.items() if key not in STORAGE_ONLY_FIELDS}
    return TicketSnapshot.model_validate({"id": document["_id"], **fields})


def interaction_document(ticket_id: str, interaction: InteractionSummary) -> Document:
    document = interaction.model_dump(mode="python")
    document["_id"] = document.pop("id")
    document["ticket_id"] = ticket_id
    return document


def interaction_of(document: Document) -> InteractionSummary:
    fields = {key: value for key, value in document.items() if key not in {"_id", "ticket_id"}}
    return InteractionSummary.model_validate({"id": document["_id"], **fields})
