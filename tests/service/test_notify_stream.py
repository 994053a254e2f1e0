"""The live inbox over Server-Sent Events, served by a real HTTP server over the real broker and
database: the unread count first, then each new notification and read-state change, heartbeats,
and resumption with Last-Event-ID."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import uvicorn

from tests.helpers import (
    bearer,
    eventually,
    prepare_topics,
    publish_events,
    running,
    settings_from,
    ticket_created,
    ticket_snapshot,
)
from ticketstream.devstack.processes import free_port
from ticketstream_notify.app import create_app as create_notify
from ticketstream_notify.settings import Settings as NotifySettings


@contextlib.asynccontextmanager
async def served(app: Any) -> AsyncIterator[str]:
    """Serve an app whose lifespan already runs over real HTTP (an in-process transport would wait
    for the endless response to finish)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve())

    async def started() -> bool:
        return bool(server.started)

    await eventually(started)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


class EventReader:
    """Reads SSE frames from a streaming response: (id, event, data) or ("", ":", comment)."""

    def __init__(self, response: httpx.Response) -> None:
        self._lines = response.aiter_lines()

    async def next(self, *, timeout: float = 20.0) -> tuple[str, str, Any]:
        return await asyncio.wait_for(self._frame(), timeout)

    async def _frame(self) -> tuple[str, str, Any]:
        fields: dict[str, str] = {}
        async for line in self._lines:
            if line == "":
                if fields:
                    data = fields.get("data")
                    return fields.get("id", ""), fields.get("event", ""), json.loads(data) if data else None
                continue
            if line.startswith(":"):
                return "", ":", line[1:].strip()
            name, _, value = line.partition(": ")
            fields[name] = value
        raise AssertionError("the stream ended")

    async def until(self, event: str, *, timeout: float = 20.0) -> tuple[str, str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            frame = await self.next(timeout=max(deadline - time.monotonic(), 0.01))
            if frame[1] == event:
                return frame


async def test_the_stream_sends_the_count_then_new_notifications_read_changes_and_resumes(infra_env):
    settings = settings_from(infra_env, NotifySettings, stream_poll_ms=100, stream_heartbeat_seconds=1)
    await prepare_topics(settings)
    dana = bearer(settings, sub="dana", teams=["network"])
    first = ticket_snapshot(ref="TKT-0971").model_copy(update={"assignee_ids": ["dana"]})
    elsewhere = ticket_snapshot(ref="TKT-0972").model_copy(update={"assignee_ids": ["sam"]})
    second = ticket_snapshot(ref="TKT-0973").model_copy(update={"assigned_team": "network"})
    app = create_notify(settings)
    async with (
        running(app) as client,
        served(app) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as http,
    ):
        refused = await http.get("/v1/notifications/stream")
        async with http.stream("GET", "/v1/notifications/stream", headers=dana) as response:
            content_type = response.headers["content-type"]
            reader = EventReader(response)
            opening = await reader.next()
            await publish_events(settings, [ticket_created(elsewhere), ticket_created(first)])
            resume_from, _, arrived = await reader.until("notification")
            _, _, counted = await reader.until("unread")
            heartbeat = await reader.until(":")
            await client.post(f"/v1/notifications/{arrived['id']}/read", headers=dana)
            _, _, after_read = await reader.until("unread")
        async with http.stream(
            "GET", "/v1/notifications/stream", headers={**dana, "Last-Event-ID": resume_from}
        ) as response:
            reader = EventReader(response)
            reopened = await reader.next()
            await publish_events(settings, [ticket_created(second)])
            _, _, resumed = await reader.until("notification")
    assert refused.status_code == 401
    assert content_type.startswith("text/event-stream")
    assert opening[1:] == ("unread", {"unread_count": 0})
    assert arrived["title"] == "New ticket TKT-0971: Title of TKT-0971" and arrived["read"] is False
    assert counted == {"unread_count": 1}
    assert heartbeat == ("", ":", "heartbeat")
    assert after_read == {"unread_count": 0}
    assert reopened[1:] == ("unread", {"unread_count": 0})
    assert resumed["ref"] == "TKT-0973", "the notification seen before the reconnect is not sent again"
