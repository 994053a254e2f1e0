"""HTTP edge of notify: the staff in-app inbox, and the dev mailbox."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status

from ticketstream.auth import StaffPrincipal
from ticketstream.settings import Environment
from ticketstream_notify import domain
from ticketstream_notify.models import DevMailList, DevMailView, NotificationList, NotificationView
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
    recipients = domain.principal_recipients(principal.sub, principal.teams, principal.role.value)
    documents, unread = await store.notifications_for(recipients, limit=limit)
    return NotificationList(
        items=[NotificationView.model_validate({**d, "id": d["_id"]}) for d in documents],
        unread_count=unread,
    )


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
