"""HTTP edge of the suppression list (admins): see, add and clear suppressed addresses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, status

from ticketstream.auth import AdminPrincipal
from ticketstream_notify import suppression
from ticketstream_notify.models_suppression import SuppressionIn, SuppressionList, SuppressionView
from ticketstream_notify.store_suppression import SuppressionStore
from ticketstream_notify.suppression import Suppression, SuppressionSource

router = APIRouter(prefix="/v1", tags=["suppressions"])

EmailPath = Annotated[str, Path(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")]


def get_suppression_store(request: Request) -> SuppressionStore:
    store: SuppressionStore = request.app.state.suppression_store
    return store


SuppressionStoreDep = Annotated[SuppressionStore, Depends(get_suppression_store)]


def _view(found: Suppression) -> SuppressionView:
    return SuppressionView(
        email=found.address,
        source=found.source.value,
        reason=found.reason,
        suppressed_at=found.suppressed_at,
        message_id=found.message_id,
    )


@router.get("/suppressions", summary="Addresses notify does not mail, most recently suppressed first")
async def list_suppressions(
    store: SuppressionStoreDep, _: AdminPrincipal, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> SuppressionList:
    return SuppressionList(items=[_view(found) for found in await store.listing(limit=limit)])


@router.post(
    "/suppressions", status_code=status.HTTP_201_CREATED, summary="Stop mailing an address until cleared"
)
async def add_suppression(
    body: SuppressionIn, store: SuppressionStoreDep, _: AdminPrincipal
) -> SuppressionView:
    added = Suppression(
        address=suppression.normalised(body.email),
        source=SuppressionSource.ADMIN,
        reason=body.reason,
        suppressed_at=datetime.now(UTC),
    )
    await store.suppress(added)
    return _view(added)


@router.delete(
    "/suppressions/{email}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Clear a suppressed address: mail queued from now on is sent again",
)
async def clear_suppression(email: EmailPath, store: SuppressionStoreDep, _: AdminPrincipal) -> Response:
    if not await store.clear(email):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{email} is not suppressed")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
