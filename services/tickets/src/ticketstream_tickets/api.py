"""Agent API of the tickets service (staff tokens). A ticket the caller may not see is a 404."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response, status

from ticketstream.auth import Principal, Role, StaffPrincipal, api_key_area, issue_magic_link
from ticketstream.contracts.events import AttachmentRef
from ticketstream.contracts.models import (
    Person,
    Priority,
    Source,
    TicketSnapshot,
    TicketStatus,
    TicketType,
)
from ticketstream_tickets import canned, domain, lifecycle
from ticketstream_tickets.listing import SortOrder, TicketFilter
from ticketstream_tickets.models import (
    ActivityEntry,
    ActivityList,
    AttachmentIn,
    BulkChanges,
    BulkItemResult,
    BulkRequest,
    BulkResult,
    CreateTicketRequest,
    EscalateRequest,
    InteractionList,
    LogRequest,
    MagicLink,
    MergeRequest,
    MergeResult,
    NoteRequest,
    RenderedCannedResponse,
    ReplyRequest,
    SplitRequest,
    SplitResult,
    StaffInteractionCreated,
    StaffTicketDetail,
    StaffTicketView,
    TicketList,
    UpdateTicketRequest,
)
from ticketstream_tickets.models_admin import (
    TICKETS_AREA,
)
from ticketstream_tickets.settings import Settings
from ticketstream_tickets.store import InteractionNotFoundError, StaleTicketError, TicketStore
from ticketstream_tickets.store_canned import CannedStore
from ticketstream_tickets.store_listing import TicketListStore

router = APIRouter(prefix="/v1/tickets", tags=["tickets"], dependencies=[Depends(api_key_area(TICKETS_AREA))])

MAX_PAGE_SIZE = 200


class SlaState(StrEnum):
    BREACHED = "breached"
    NOT_BREACHED = "not_breached"


IF_MATCH = re.compile(r'^\s*(?:W/)?"?(\d{1,12})"?\s*$')


def get_ticket_store(request: Request) -> TicketStore:
    store: TicketStore = request.app.state.ticket_store
    return store


def get_list_store(request: Request) -> TicketListStore:
    store: TicketListStore = request.app.state.list_store
    return store


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


TicketStoreDep = Annotated[TicketStore, Depends(get_ticket_store)]
ListStoreDep = Annotated[TicketListStore, Depends(get_list_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def viewer_of(principal: Principal) -> domain.StaffViewer:
    return domain.StaffViewer(
        user_id=principal.sub,
        teams=tuple(principal.teams),
        sees_everything=principal.role in {Role.MANAGER, Role.ADMIN},
    )


def not_found(ref: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"no ticket {ref}")


async def visible_ticket(ref: str, store: TicketStore, principal: Principal) -> TicketSnapshot:
    ticket = await store.get(ref)
    if ticket is None or not domain.staff_can_see(viewer_of(principal), ticket):
        raise not_found(ref)
    return ticket


def staff_person(principal: Principal) -> Person:
    return Person(email=(principal.email or f"{principal.sub}@staff.invalid").lower(), name=principal.name)


def rule_error(error: domain.DomainError) -> HTTPException:
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        {"code": error.code, "message": str(error), "details": error.details},
    )


def stale_error(error: StaleTicketError) -> HTTPException:
    return HTTPException(
        status.HTTP_412_PRECONDITION_FAILED,
        {
            "code": "precondition_failed",
            "message": str(error),
            "details": {"current_version": error.current_version},
        },
    )


def attachment_refs(attachments: list[AttachmentIn]) -> list[AttachmentRef]:
    return [AttachmentRef.model_validate(item.model_dump()) for item in attachments]


def etag(ticket: TicketSnapshot) -> str:
    return f'"{ticket.version}"'


@router.get("", summary="List the tickets the caller may see, newest first, with filters and search")
async def list_tickets(
    store: ListStoreDep,
    principal: StaffPrincipal,
    status_filter: Annotated[TicketStatus | None, Query(alias="status")] = None,
    priority: Priority | None = None,
    ticket_type: Annotated[TicketType | None, Query(alias="type")] = None,
    source: Source | None = None,
    assignee: Annotated[str | None, Query(max_length=100, description='A user id, or "me"')] = None,
    team: Annotated[str | None, Query(max_length=100)] = None,
    tag: Annotated[str | None, Query(max_length=100)] = None,
    category: Annotated[str | None, Query(max_length=100)] = None,
    customer: Annotated[str | None, Query(max_length=64, description="Customer id")] = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    updated_from: datetime | None = None,
    updated_to: datetime | None = None,
    sla: Annotated[SlaState | None, Query(description="breached: has breached an SLA target")] = None,
    due_before: datetime | None = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1, max_length=200, description="Whole words of title or text, or a ref; all must match"
        ),
    ] = None,
    archived: bool = False,
    sort: Annotated[SortOrder, Query(description="newest (default) or oldest first")] = SortOrder.NEWEST,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    cursor: Annotated[str | None, Query(pattern=r"^\d+$", max_length=12)] = None,
) -> TicketList:
    page = await store.list_tickets(
        TicketFilter(
            status=status_filter,
            priority=priority.value if priority else None,
            type=ticket_type.value if ticket_type else None,
            source=source.value if source else None,
            assignee_id=principal.sub if assignee == "me" else assignee,
            team=team,
            tag=tag.strip().lower() if tag else None,
            category=category,
            customer_id=customer,
            created_from=created_from,
            created_to=created_to,
            updated_from=updated_from,
            updated_to=updated_to,
            breached=None if sla is None else sla is SlaState.BREACHED,
            due_before=due_before,
            text=q,
            archived=archived,
            visible_to=viewer_of(principal),
        ),
        limit=limit,
        cursor=int(cursor) if cursor else None,
        order=sort,
    )
    return TicketList(items=[staff_view(ticket) for ticket in page.items], next_cursor=page.next_cursor)


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create a ticket (source API)")
async def create_ticket(
    body: CreateTicketRequest, response: Response, store: TicketStoreDep, principal: StaffPrincipal
) -> StaffTicketView:
    requester = (
        Person(email=str(body.requester.email).lower(), name=body.requester.name) if body.requester else None
    )
    try:
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
                assigned_team=body.assigned_team,
                custom_fields=body.custom_fields,
            ),
            actor=principal.sub,
            now=datetime.now(UTC),
        )
    except domain.DomainError as error:
        raise rule_error(error) from error
    response.headers["ETag"] = etag(ticket)
    response.headers["Location"] = f"/v1/tickets/{ticket.ref}"
    return StaffTicketView.model_validate(ticket.model_dump())


@router.get("/{ref}", summary="One ticket by ref (TKT-0042) or id, with its interactions")
async def get_ticket(
    ref: str, response: Response, store: TicketStoreDep, principal: StaffPrincipal
) -> StaffTicketDetail:
    ticket = await visible_ticket(ref, store, principal)
    interactions = await store.interactions(ticket.id, customer_visible_only=False)
    response.headers["ETag"] = etag(ticket)
    return StaffTicketDetail.model_validate({**ticket.model_dump(), "interactions": interactions})


@router.patch(
    "/{ref}",
    summary="Change a ticket; requires If-Match with the version you read",
    responses={
        412: {"description": "The ticket changed since that version"},
        422: {"description": "Invalid change, e.g. a status transition that is not allowed"},
        428: {"description": "If-Match is missing"},
    },
)
async def update_ticket(
    ref: str,
    body: UpdateTicketRequest,
    response: Response,
    store: TicketStoreDep,
    principal: StaffPrincipal,
    if_match: Annotated[str | None, Header(description='The ticket version you read, e.g. "3"')] = None,
) -> StaffTicketView:
    await visible_ticket(ref, store, principal)
    if if_match is None:
        raise HTTPException(
            status.HTTP_428_PRECONDITION_REQUIRED, 'send If-Match with the ticket version you read, e.g. "3"'
        )
    match = IF_MATCH.match(if_match)
    if match is None:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, 'If-Match must be a ticket version such as "3"')
    patch = lifecycle.TicketPatch(
        **body.model_dump(exclude_none=True, exclude={"tags", "assignee_ids", "custom_fields"}),
        custom_fields=body.custom_fields,
        tags=tuple(tag.strip().lower() for tag in body.tags if tag.strip())
        if body.tags is not None
        else None,
        assignee_ids=tuple(body.assignee_ids) if body.assignee_ids is not None else None,
    )
    try:
        ticket = await store.update_ticket(
            ref, patch, expected_version=int(match.group(1)), actor=principal.sub, now=datetime.now(UTC)
        )
    except StaleTicketError as error:
        raise stale_error(error) from error
    except domain.DomainError as error:
        raise rule_error(error) from error
    response.headers["ETag"] = etag(ticket)
    return StaffTicketView.model_validate(ticket.model_dump())


@router.get("/{ref}/interactions", summary="Every interaction of a ticket, oldest first")
async def list_interactions(ref: str, store: TicketStoreDep, principal: StaffPrincipal) -> InteractionList:
    ticket = await visible_ticket(ref, store, principal)
    return InteractionList(items=await store.interactions(ticket.id, customer_visible_only=False))


def get_canned_store(request: Request) -> CannedStore:
    store: CannedStore = request.app.state.canned_store
    return store


CannedStoreDep = Annotated[CannedStore, Depends(get_canned_store)]


async def rendered_canned(
    canned_id: str, ticket: TicketSnapshot, principal: Principal, store: CannedStore, settings: Settings
) -> RenderedCannedResponse:
    document = await store.get(canned_id)
    if document is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"no canned response {canned_id}")
    context = canned.context_for(
        ticket,
        agent_name=principal.name,
        agent_email=principal.email,
        support_address=settings.support_address,
    )
    try:
        body = canned.render(document["body"], context)
    except domain.DomainError as error:
        raise rule_error(error) from error
    return RenderedCannedResponse(id=canned_id, title=document["title"], body=body)


@router.get(
    "/{ref}/canned-responses/{canned_id}", summary="Preview a canned response filled in for this ticket"
)
async def preview_canned(
    ref: str,
    canned_id: str,
    store: TicketStoreDep,
    canned_store: CannedStoreDep,
    principal: StaffPrincipal,
    settings: SettingsDep,
) -> RenderedCannedResponse:
    ticket = await visible_ticket(ref, store, principal)
    return await rendered_canned(canned_id, ticket, principal, canned_store, settings)


@router.post(
    "/{ref}/replies",
    status_code=status.HTTP_201_CREATED,
    summary="Public reply (text or a canned response): emailed to the requester in the ticket's thread",
)
async def add_reply(
    ref: str,
    body: ReplyRequest,
    store: TicketStoreDep,
    canned_store: CannedStoreDep,
    principal: StaffPrincipal,
    settings: SettingsDep,
) -> StaffInteractionCreated:
    ticket = await visible_ticket(ref, store, principal)
    text = body.body
    if body.canned_response_id is not None:
        text = (
            await rendered_canned(body.canned_response_id, ticket, principal, canned_store, settings)
        ).body
    try:
        ticket, interaction = await store.add_public_reply(
            ref,
            body=text or "",
            author=staff_person(principal),
            author_id=principal.sub,
            message_domain=settings.support_address.partition("@")[2] or "ticketstream.local",
            now=datetime.now(UTC),
            attachments=attachment_refs(body.attachments),
        )
    except domain.DomainError as error:
        raise rule_error(error) from error
    return StaffInteractionCreated(ticket=staff_view(ticket), interaction=interaction)


@router.post(
    "/{ref}/notes",
    status_code=status.HTTP_201_CREATED,
    summary="Internal note: staff only, never shown or sent to the customer; @handle mentions",
)
async def add_note(
    ref: str, body: NoteRequest, store: TicketStoreDep, principal: StaffPrincipal
) -> StaffInteractionCreated:
    await visible_ticket(ref, store, principal)
    ticket, interaction = await store.add_internal_note(
        ref,
        body=body.body,
        author=staff_person(principal),
        author_id=principal.sub,
        now=datetime.now(UTC),
        attachments=attachment_refs(body.attachments),
    )
    return StaffInteractionCreated(ticket=staff_view(ticket), interaction=interaction)


@router.post(
    "/{ref}/logs",
    status_code=status.HTTP_201_CREATED,
    summary="Log a phone call, meeting, SMS or note (only an SMS is shown to the customer)",
)
async def log_contact(
    ref: str, body: LogRequest, store: TicketStoreDep, principal: StaffPrincipal
) -> StaffInteractionCreated:
    await visible_ticket(ref, store, principal)
    now = datetime.now(UTC)
    contact = lifecycle.LoggedContact(
        type=body.type,
        body=body.body,
        occurred_at=body.occurred_at or now,
        duration_minutes=body.duration_minutes,
        attachments=attachment_refs(body.attachments),
    )
    try:
        ticket, interaction = await store.log_contact(
            ref, contact, author=staff_person(principal), author_id=principal.sub, now=now
        )
    except domain.DomainError as error:
        raise rule_error(error) from error
    return StaffInteractionCreated(ticket=staff_view(ticket), interaction=interaction)


@router.get("/{ref}/activity", summary="Who changed what and when, in order")
async def activity(ref: str, store: TicketStoreDep, principal: StaffPrincipal) -> ActivityList:
    ticket = await visible_ticket(ref, store, principal)
    entries = await store.activity(ticket.id)
    return ActivityList(items=[ActivityEntry.model_validate(entry) for entry in entries])


def staff_view(ticket: TicketSnapshot) -> StaffTicketView:
    return StaffTicketView.model_validate(ticket.model_dump())


@router.post("/{ref}/escalate", summary="Escalate one tier up (team lead, then manager); makes it URGENT")
async def escalate(
    ref: str, body: EscalateRequest, store: TicketStoreDep, principal: StaffPrincipal
) -> StaffTicketView:
    await visible_ticket(ref, store, principal)
    try:
        ticket = await store.escalate(
            ref, reason=body.reason, to_level=body.level, actor=principal.sub, now=datetime.now(UTC)
        )
    except domain.DomainError as error:
        raise rule_error(error) from error
    return staff_view(ticket)


@router.post("/{ref}/merge", summary="Merge this duplicate into another ticket")
async def merge(
    ref: str, body: MergeRequest, store: TicketStoreDep, principal: StaffPrincipal
) -> MergeResult:
    await visible_ticket(ref, store, principal)
    target = await store.get(body.into)
    if target is None or not domain.staff_can_see(viewer_of(principal), target):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"no ticket {body.into} to merge into")
    try:
        merged, kept = await store.merge(ref, into=target.id, actor=principal.sub, now=datetime.now(UTC))
    except domain.DomainError as error:
        raise rule_error(error) from error
    return MergeResult(merged=staff_view(merged), into=staff_view(kept))


@router.post(
    "/{ref}/split",
    status_code=status.HTTP_201_CREATED,
    summary="Turn one interaction into a new linked ticket",
)
async def split(
    ref: str, body: SplitRequest, store: TicketStoreDep, principal: StaffPrincipal
) -> SplitResult:
    await visible_ticket(ref, store, principal)
    try:
        original, new_ticket = await store.split(
            ref,
            interaction_id=body.interaction_id,
            title=body.title,
            actor=principal.sub,
            now=datetime.now(UTC),
        )
    except InteractionNotFoundError as error:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"{ref} has no interaction {body.interaction_id}"
        ) from error
    except domain.DomainError as error:
        raise rule_error(error) from error
    return SplitResult(original=staff_view(original), new_ticket=staff_view(new_ticket))


@router.post("/{ref}/archive", summary="Archive a resolved or closed ticket (hidden from default lists)")
async def archive(ref: str, store: TicketStoreDep, principal: StaffPrincipal) -> StaffTicketView:
    await visible_ticket(ref, store, principal)
    try:
        ticket = await store.archive(ref, actor=principal.sub, now=datetime.now(UTC))
    except domain.DomainError as error:
        raise rule_error(error) from error
    return staff_view(ticket)


BULK_CONCURRENCY = 8


@router.post("/bulk", summary="Apply one change to up to 500 tickets, with a result per ticket")
async def bulk_update(body: BulkRequest, store: TicketStoreDep, principal: StaffPrincipal) -> BulkResult:
    gate = asyncio.Semaphore(BULK_CONCURRENCY)
    refs = list(dict.fromkeys(ref.strip() for ref in body.refs))

    async def one(ref: str) -> BulkItemResult:
        async with gate:
            return await _bulk_item(ref, body.changes, store, principal)

    items = await asyncio.gather(*(one(ref) for ref in refs))
    succeeded = sum(item.ok for item in items)
    return BulkResult(succeeded=succeeded, failed=len(items) - succeeded, items=list(items))


async def _bulk_item(
    ref: str, changes: BulkChanges, store: TicketStore, principal: Principal
) -> BulkItemResult:
    ticket = await store.get(ref)
    if ticket is None or not domain.staff_can_see(viewer_of(principal), ticket):
        return BulkItemResult(ref=ref, ok=False, code="not_found", message=f"no ticket {ref}")
    now = datetime.now(UTC)
    tags = None
    if changes.add_tags or changes.remove_tags:
        removed = {tag.strip().lower() for tag in changes.remove_tags}
        tags = tuple(
            {*ticket.tags, *(tag.strip().lower() for tag in changes.add_tags if tag.strip())} - removed
        )
    patch = lifecycle.TicketPatch(
        status=changes.status,
        priority=changes.priority,
        assignee_ids=tuple(changes.assignee_ids) if changes.assignee_ids is not None else None,
        assigned_team=changes.assigned_team,
        tags=tags,
    )
    try:
        updated = await store.update_ticket(
            ticket.id, patch, expected_version=ticket.version, actor=principal.sub, now=now
        )
        if changes.archive:
            updated = await store.archive(ticket.id, actor=principal.sub, now=now)
    except StaleTicketError as error:
        return BulkItemResult(ref=ref, ok=False, code="precondition_failed", message=str(error))
    except domain.DomainError as error:
        return BulkItemResult(ref=ref, ok=False, code=error.code, message=str(error))
    return BulkItemResult(ref=ticket.ref, ok=True, version=updated.version)


@router.post("/{ref}/magic-link", summary="A signed, expiring link for the requester to follow and answer")
async def magic_link(
    ref: str, store: TicketStoreDep, principal: StaffPrincipal, settings: SettingsDep
) -> MagicLink:
    ticket = await visible_ticket(ref, store, principal)
    if ticket.requester is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"{ticket.ref} has no requester to send a link to"
        )
    token, expires = issue_magic_link(settings, ref=ticket.ref, email=ticket.requester.email)
    return MagicLink(
        url=f"{settings.public_url.rstrip('/')}/v1/portal/magic/{token}", token=token, expires_at=expires
    )
