"""Admin routes over quarantine: list, read, download, release (re-ingest) and discard."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status

from ticketstream.auth import AdminPrincipal
from ticketstream_ingest.api import RFC822, EmailIntakeDep
from ticketstream_ingest.intake import ReleaseError
from ticketstream_ingest.models import (
    InboundEmailResponse,
    QuarantineEntryView,
    QuarantinePage,
    ReleaseResponse,
)
from ticketstream_ingest.screening import HoldReason
from ticketstream_ingest.store_quarantine import QuarantineState, QuarantineStore

router = APIRouter(prefix="/v1/quarantine", tags=["quarantine"])


def get_quarantine_store(request: Request) -> QuarantineStore:
    store: QuarantineStore = request.app.state.quarantine_store
    return store


QuarantineStoreDep = Annotated[QuarantineStore, Depends(get_quarantine_store)]


def _page_after(cursor: str | None) -> tuple[datetime, str] | None:
    if cursor is None:
        return None
    stamp, _, entry_id = cursor.partition("|")
    try:
        held_at = datetime.fromisoformat(stamp)
    except ValueError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "cursor is not valid") from error
    if not entry_id:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "cursor is not valid")
    return (held_at if held_at.tzinfo else held_at.replace(tzinfo=UTC)), entry_id


async def _held_or_404(store: QuarantineStore, entry_id: str) -> QuarantineEntryView:
    entry = await store.get(entry_id)
    if entry is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no quarantined message with this id")
    return QuarantineEntryView.of(entry)


@router.get("", summary="Messages ingest held back, newest first")
async def list_quarantine(
    store: QuarantineStoreDep,
    _: AdminPrincipal,
    state: QuarantineState | None = QuarantineState.HELD,
    reason: HoldReason | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> QuarantinePage:
    entries = await store.list_held(state=state, reason=reason, limit=limit, after=_page_after(cursor))
    items = [QuarantineEntryView.of(entry) for entry in entries]
    next_cursor = f"{items[-1].held_at.isoformat()}|{items[-1].id}" if len(items) == limit else None
    return QuarantinePage(items=items, next_cursor=next_cursor)


@router.get("/{entry_id}", summary="One quarantined message")
async def get_quarantine_entry(
    entry_id: str, store: QuarantineStoreDep, _: AdminPrincipal
) -> QuarantineEntryView:
    return await _held_or_404(store, entry_id)


@router.get(
    "/{entry_id}/raw",
    summary="The quarantined message as it arrived (message/rfc822)",
    response_class=Response,
)
async def get_quarantine_raw(entry_id: str, store: QuarantineStoreDep, _: AdminPrincipal) -> Response:
    await _held_or_404(store, entry_id)
    raw = await store.raw(entry_id)
    if raw is None:
        raise HTTPException(status.HTTP_410_GONE, "the message was discarded")
    return Response(content=raw, media_type=RFC822)


@router.post("/{entry_id}/release", summary="Ingest a held message as if it had just arrived")
async def release_quarantine_entry(
    entry_id: str, store: QuarantineStoreDep, intake: EmailIntakeDep, principal: AdminPrincipal
) -> ReleaseResponse:
    await _held_or_404(store, entry_id)
    try:
        result = await intake.release(entry_id, by=principal.sub, now=datetime.now(UTC))
    except ReleaseError as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from error
    return ReleaseResponse(
        entry=await _held_or_404(store, entry_id),
        result=InboundEmailResponse(
            status=result.status.value,
            inbound_id=result.inbound_id,
            message_id=result.message_id,
            reason=result.reason,
        ),
    )


@router.post("/{entry_id}/discard", summary="Delete a held message for good")
async def discard_quarantine_entry(
    entry_id: str, store: QuarantineStoreDep, principal: AdminPrincipal
) -> QuarantineEntryView:
    await _held_or_404(store, entry_id)
    entry = await store.resolve(
        entry_id, state=QuarantineState.DISCARDED, by=principal.sub, now=datetime.now(UTC)
    )
    if entry is None:
        raise HTTPException(status.HTTP_409_CONFLICT, "the message is no longer held")
    return QuarantineEntryView.of(entry)
