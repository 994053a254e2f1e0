"""HTTP edge of notify: the staff in-app inbox, and the dev mailbox."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status

from ticketstream.auth import Principal, StaffPrincipal
from ticketstream.settings import Environment
from ticketstream_notify import domain
from ticketstream_notify.models import (
    DevMailList,
    DevMailView,
    MarkedRead,
    NotificationList,
    NotificationView,
)
from ticketstream_notify.store import NotifyStore

router = APIRouter(prefix="/v1", tags=["notifications"])


def get_notify_store(request: Request) -> NotifyStore:
    store: NotifyStore = request.app.state.notify_store
    return store


NotifyStoreDep = Annotated[NotifyStore, Depends(get_notify_store)]


@router.get("/notifications", summary="The caller's in-app notifications, newest first")
async def list_notifications(
    store: NotifyStoreDep,
    principal: StaffPrincipal,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> NotificationList:
    documents, unread = await store.notifications_for(
        _addresses(principal), reader=principal.sub, limit=limit
    )
    return NotificationList(
        items=[
            NotificationView.model_validate(
                {**d, "id": d["_id"], "read": principal.sub in d.get("read_by", [])}
            )
            for d in documents
        ],
        unread_count=unread,
    )


@router.post(
    "/notifications/read-all",
    summary="Mark every notification addressed to the caller as read (for the caller only)",
)
async def mark_all_read(store: NotifyStoreDep, principal: StaffPrincipal) -> MarkedRead:
    return MarkedRead(marked=await store.mark_all_read(_addresses(principal), reader=principal.sub))


@router.post(
    "/notifications/{notification_id}/read",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Mark one notification as read for the caller",
)
async def mark_read(notification_id: str, store: NotifyStoreDep, principal: StaffPrincipal) -> Response:
    if not await store.mark_read(notification_id, _addresses(principal), reader=principal.sub):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no notification {notification_id} for you")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _addresses(principal: Principal) -> list[str]:
    return domain.principal_recipients(principal.sub, principal.teams, principal.role.value)


@router.get(
    "/dev/mail",
    summary="Outgoing mail kept by notify (not available when TICKETSTREAM_ENV=production)",
)
async def dev_mail(
    request: Request,
    store: NotifyStoreDep,
    _: StaffPrincipal,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> DevMailList:
    if request.app.state.settings.env is Environment.PRODUCTION:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not found")
    documents = await store.recent_mail(limit=limit)
    return DevMailList(items=[DevMailView.model_validate({**d, "id": d["_id"]}) for d in documents])
