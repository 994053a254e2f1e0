"""The live notification stream as a sequence of Server-Sent Events, free of HTTP and storage.

Event ids are `<created_at in epoch ms>/<notification id>`, so a client reconnecting with
`Last-Event-ID` resumes after the last notification it saw. A notification may commit a moment
after its `created_at` (a retried transaction, another replica's clock), so each poll looks back
`LOOKBACK` and skips what it already sent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

LOOKBACK = timedelta(seconds=5)


def event_id(created_at: datetime, notification_id: str) -> str:
    return f"{int(created_at.timestamp() * 1000)}/{notification_id}"


def resume_point(last_event_id: str | None) -> tuple[datetime, str] | None:
    """The time and id of the last notification a client saw; None when absent or unreadable."""
    if not last_event_id:
        return None
    millis, _, notification_id = last_event_id.strip().partition("/")
    if not millis.isdigit() or not notification_id:
        return None
    try:
        return datetime.fromtimestamp(int(millis) / 1000, tz=UTC), notification_id
    except (OverflowError, OSError, ValueError):
        return None


def frame(event: str, data: Mapping[str, Any], *, id: str | None = None) -> str:
    """One SSE frame; JSON data is a single line, so no line of it can end the frame early."""
    lines = [f"id: {id}"] if id else []
    lines += [f"event: {event}", f"data: {json.dumps(data, default=str, separators=(',', ':'))}"]
    return "\n".join(lines) + "\n\n"


HEARTBEAT = ": heartbeat\n\n"


class SentLog:
    """Which notifications this stream already sent, forgotten once older than the lookback."""

    def __init__(self) -> None:
        self._sent: dict[str, datetime] = {}

    def first_time(self, notification_id: str, created_at: datetime) -> bool:
        if notification_id in self._sent:
            return False
        self._sent[notification_id] = created_at
        return True

    def forget_before(self, moment: datetime) -> None:
        self._sent = {key: at for key, at in self._sent.items() if at >= moment}
