"""Customer portal API: a customer's own tickets and their customer-visible messages only.

Responses are built from the portal models, whose interaction type admits only customer-visible
types, from interactions already filtered in the database query.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status

from ticketstream.auth import (
    CurrentPrincipal,
    InvalidTokenError,
    MagicLinkGrant,
    Principal,
    Role,
    verify_magic_link,
)
from ticketstream.contracts.events import ChatAuthorRole, InteractionSummary
from ticketstream.contracts.models import InteractionType, Person, TicketSnapshot
from ticketstream_tickets import domain
from ticketstream_tickets.api import MAX_PAGE_SIZE, ListStoreDep, TicketStoreDep, not_found, rule_error
from ticketstream_tickets.listing import TicketFilter
from ticketstream_tickets.models import (
    MessageRequest,
    PortalAttachmentView,
    PortalInteractionView,
    PortalTicketDetail,
    PortalTicketList,
    PortalTicketView,
)
from ticketstream_tickets.store import TicketStore
from ticketstream_tickets.store_customers import CustomerStore

router = APIRouter(prefix="/v1/portal/tickets", tags=["customer portal"])

FROM_SUPPORT = frozenset({InteractionType.EMAIL_OUTBOUND})
SUPPORT_CHAT_ROLES = frozenset({ChatAuthorRole.AGENT, ChatAuthorRole.BOT})


def require_customer(principal: CurrentPrincipal) -> Principal:
    """Customers with the address their tickets were requested from; anyone else: not here."""
    if principal.role is not Role.CUSTOMER or not principal.email:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not found")
    return principal


CustomerPrincipal = Annotated[Principal, Depends(require_customer)]


async def customer_viewer(request: Request, principal: CustomerPrincipal) -> domain.CustomerViewer:
    customers: CustomerStore = request.app.state.customer_store
    return await customers.viewer_for(principal.email or "")


CustomerViewerDep = Annotated[domain.CustomerViewer, Depends(customer_viewer)]


def portal_ticket(ticket: TicketSnapshot) -> PortalTicketView:
    return PortalTicketView.model_validate(ticket.model_dump(include=set(PortalTicketView.model_fields)))


def portal_message(interaction: InteractionSummary) -> PortalInteractionView:
    # Staff-written messages carry their author's staff id (a logged SMS, a reply); a chat
    # transcript marks its agents' and bots' lines by role.
    from_support = (
        interaction.type in FROM_SUPPORT
        or interaction.author_id is not None
        or interaction.chat_role in SUPPORT_CHAT_ROLES
    )
    author = interaction.author
    return PortalInteractionView(
        id=interaction.id,
        type=interaction.type.value,  # validated against the customer-visible Literal
        from_support=from_support,
        author_name=(author.name if author else None) or ("Support" if from_support else None),
        body_text=interaction.body_text,
        attachments=[
            PortalAttachmentView(filename=item.filename, content_type=item.content_type, size=item.size)
            for item in interaction.attachments
        ],
        created_at=interaction.created_at,
    )


async def own_ticket(ref: str, store: TicketStore, viewer: domain.CustomerViewer) -> TicketSnapshot:
    ticket = await store.get(ref)
    if ticket is None or not domain.customer_can_see(viewer, ticket):
        raise not_found(ref)
    return ticket


@router.get("", summary="The caller's own tickets (and their organisation's, if granted), newest first")
async def list_own_tickets(
    store: ListStoreDep,
    viewer: CustomerViewerDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    cursor: Annotated[str | None, Query(pattern=r"^\d+$", max_length=12)] = None,
) -> PortalTicketList:
    page = await store.list_tickets(
        TicketFilter(customer=viewer),
        limit=limit,
        cursor=int(cursor) if cursor else None,
    )
    return PortalTicketList(
        items=[portal_ticket(ticket) for ticket in page.items], next_cursor=page.next_cursor
    )


@router.get("/{ref}", summary="One of the caller's tickets with its messages")
async def get_own_ticket(ref: str, store: TicketStoreDep, viewer: CustomerViewerDep) -> PortalTicketDetail:
    ticket = await own_ticket(ref, store, viewer)
    interactions = await store.interactions(ticket.id, customer_visible_only=True)
    return PortalTicketDetail(
        **portal_ticket(ticket).model_dump(), messages=[portal_message(item) for item in interactions]
    )


@router.post(
    "/{ref}/replies", status_code=status.HTTP_201_CREATED, summary="Reply on one of the caller's tickets"
)
async def reply_on_own_ticket(
    ref: str,
    body: MessageRequest,
    store: TicketStoreDep,
    principal: CustomerPrincipal,
    viewer: CustomerViewerDep,
) -> PortalInteractionView:
    await own_ticket(ref, store, viewer)
    try:
        _, interaction = await store.add_customer_message(
            ref,
            body=body.body,
            author=Person(email=(principal.email or "").lower(), name=principal.name),
            now=datetime.now(UTC),
        )
    except domain.DomainError as error:
        raise rule_error(error) from error
    return portal_message(interaction)


# --- magic links: follow and answer one ticket without an account ---------------------------

magic_router = APIRouter(prefix="/v1/portal/magic", tags=["customer portal"])


async def granted_ticket(
    token: str, request: Request, store: TicketStore
) -> tuple[TicketSnapshot, MagicLinkGrant]:
    try:
        grant = verify_magic_link(request.app.state.settings, token)
    except InvalidTokenError as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this link is not valid or has expired") from error
    ticket = await store.get(grant.ref)
    if ticket is None or not domain.customer_can_see(domain.CustomerViewer(email=grant.email), ticket):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this link is not valid or has expired")
    return ticket, grant


@magic_router.get("/{token}", summary="The ticket a magic link points to, with its messages")
async def get_by_magic_link(token: str, request: Request, store: TicketStoreDep) -> PortalTicketDetail:
    ticket, _ = await granted_ticket(token, request, store)
    interactions = await store.interactions(ticket.id, customer_visible_only=True)
    return PortalTicketDetail(
        **portal_ticket(ticket).model_dump(), messages=[portal_message(item) for item in interactions]
    )


@magic_router.post(
    "/{token}/replies", status_code=status.HTTP_201_CREATED, summary="Reply through a magic link"
)
async def reply_by_magic_link(
    token: str, body: MessageRequest, request: Request, store: TicketStoreDep
) -> PortalInteractionView:
    ticket, grant = await granted_ticket(token, request, store)
    try:
        _, interaction = await store.add_customer_message(
            ticket.id, body=body.body, author=Person(email=grant.email, name=None), now=datetime.now(UTC)
        )
    except domain.DomainError as error:
        raise rule_error(error) from error
    return portal_message(interaction)
