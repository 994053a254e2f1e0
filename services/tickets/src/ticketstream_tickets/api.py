"""Agent API of the tickets service (staff tokens)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status

from ticketstream.auth import StaffPrincipal
from ticketstream.contracts.models import Person, Priority, Source, TicketStatus
from ticketstream_tickets import domain
from ticketstream_tickets.models import (
    CreateTicketRequest,
    StaffTicketDetail,
    StaffTicketView,
    TicketList,
)
from ticketstream_tickets.store import TicketFilter, TicketStore

router = APIRouter(prefix="/v1/tickets", tags=["tickets"])

MAX_PAGE_SIZE = 200


def get_ticket_store(request: Request) -> TicketStore:
    store: TicketStore = request.app.state.ticket_store
    return store


TicketStoreDep = Annotated[TicketStore, Depends(get_ticket_store)]


@router.get("", summary="List tickets, newest first")
async def list_tickets(
    store: TicketStoreDep,
    _: StaffPrincipal,
    status_filter: Annotated[TicketStatus | None, Query(alias="status")] = None,
    priority: Priority | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    cursor: Annotated[str | None, Query(pattern=r"^\d+$", max_length=12)] = None,
) -> TicketList:
    page = await store.list(
        TicketFilter(status=status_filter, priority=priority.value if priority else None),
        limit=limit,
        cursor=int(cursor) if cursor else None,
    )
    return TicketList(
        items=[StaffTicketView.model_validate(ticket.model_dump()) for ticket in page.items],
        next_cursor=page.next_cursor,
    )


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create a ticket (source API)")
async def create_ticket(
    body: CreateTicketRequest, store: TicketStoreDep, principal: StaffPrincipal
) -> StaffTicketView:
    requester = (
        Person(email=str(body.requester.email).lower(), name=body.requester.name) if body.requester else None
    )
    ticket = await store.create_ticket(
        domain.NewTicket(
            title=body.title.strip(),
            description=body.description,
            source=Source.API,
            requester=requester,
            priority=body.priority,
            type=body.type,
            category=body.category,
            tags=tuple(tag.strip().lower() for tag in body.tags if tag.strip()),
        ),
        actor=principal.sub,
        now=datetime.now(UTC),
    )
    return StaffTicketView.model_validate(ticket.model_dump())


@router.get("/{ref}", summary="One ticket by ref (TKT-0042) or id, with its interactions")
async def get_ticket(ref: str, store: TicketStoreDep, _: StaffPrincipal) -> StaffTicketDetail:
    ticket = await store.get(ref)
    if ticket is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no ticket {ref}")
    interactions = await store.interactions(ticket.id, customer_visible_only=False)
    return StaffTicketDetail.model_validate({**ticket.model_dump(), "interactions": interactions})
