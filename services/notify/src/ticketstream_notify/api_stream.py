"""HTTP edge of the live inbox: `GET /v1/notifications/stream`, Server-Sent Events for staff."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import StreamingResponse

from ticketstream.auth import StaffPrincipal
from ticketstream.db import Document
from ticketstream_notify import domain, live
from ticketstream_notify.models import NotificationView
from ticketstream_notify.store_stream import BATCH, StreamStore

router = APIRouter(prefix="/v1", tags=["notifications"])


def get_stream_store(request: Request) -> StreamStore:
    store: StreamStore = request.app.state.stream_store
    return store


StreamStoreDep = Annotated[StreamStore, Depends(get_stream_store)]


@router.get(
    "/notifications/stream",
    response_class=StreamingResponse,
    summary="Live notifications for the caller (text/event-stream)",
    description="First an `unread` event with the caller's unread count, then a `notification` event "
    "for each new notification addressed to them and an `unread` event whenever the count changes; "
    "a `: heartbeat` comment keeps an idle connection open. Send `Last-Event-ID` to resume.",
)
async def notification_stream(
    request: Request,
    store: StreamStoreDep,
    principal: StaffPrincipal,
    last_event_id: Annotated[str | None, Header(max_length=400)] = None,
) -> StreamingResponse:
    settings = request.app.state.settings
    subscription = Subscription(
        store,
        recipients=domain.principal_recipients(principal.sub, principal.teams, principal.role.value),
        reader=principal.sub,
        resume=live.resume_point(last_event_id),
    )
    frames = subscription.frames(
        request,
        poll_seconds=settings.stream_poll_ms / 1000,
        heartbeat_seconds=settings.stream_heartbeat_seconds,
    )
    return StreamingResponse(
        frames,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


class Subscription:
    """One caller's stream: where it stands in time and what it already sent."""

    def __init__(
        self,
        store: StreamStore,
        *,
        recipients: list[str],
        reader: str,
        resume: tuple[datetime, str] | None,
    ) -> None:
        self._store = store
        self._recipients = recipients
        self._reader = reader
        self._resume = resume
        self._sent = live.SentLog()

    async def frames(
        self, request: Request, *, poll_seconds: float, heartbeat_seconds: float
    ) -> AsyncIterator[str]:
        floor = await self._start()
        newest = floor
        unread = await self._store.unread_count(self._recipients, reader=self._reader)
        yield live.frame("unread", {"unread_count": unread})
        last_frame = time.monotonic()
        while not await request.is_disconnected():
            since = max(floor, newest - live.LOOKBACK)
            async for document in self._new_since(since):
                newest = max(newest, document["created_at"])
                yield self._notification_frame(document)
                last_frame = time.monotonic()
            self._sent.forget_before(since)
            now_unread = await self._store.unread_count(self._recipients, reader=self._reader)
            if now_unread != unread:
                unread = now_unread
                yield live.frame("unread", {"unread_count": unread})
                last_frame = time.monotonic()
            if time.monotonic() - last_frame >= heartbeat_seconds:
                yield live.HEARTBEAT
                last_frame = time.monotonic()
            await asyncio.sleep(poll_seconds)

    async def _start(self) -> datetime:
        """The earliest time to look at. A fresh stream starts now, marking what is already
        stored as sent; a resumed one starts at the last notification the client saw."""
        if self._resume is not None:
            seen_at, seen_id = self._resume
            self._sent.first_time(seen_id, seen_at)
            return seen_at
        now = datetime.now(UTC)
        for document in await self._store.notifications_since(self._recipients, since=now - live.LOOKBACK):
            self._sent.first_time(str(document["_id"]), document["created_at"])
        return now - live.LOOKBACK

    async def _new_since(self, since: datetime) -> AsyncIterator[Document]:
        while True:
            documents = await self._store.notifications_since(self._recipients, since=since)
            for document in documents:
                if self._sent.first_time(str(document["_id"]), document["created_at"]):
                    yield document
            if len(documents) < BATCH or documents[-1]["created_at"] == since:
                return
            since = documents[-1]["created_at"]

    def _notification_frame(self, document: Document) -> str:
        view = NotificationView.model_validate(
            {**document, "id": document["_id"], "read": self._reader in document.get("read_by", [])}
        )
        return live.frame(
            "notification",
            view.model_dump(mode="json"),
            id=live.event_id(document["created_at"], str(document["_id"])),
        )
