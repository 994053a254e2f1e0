"""Helpers shared by the service, e2e and benchmark tests (no fixtures here)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, TypeVar

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi import FastAPI

from ticketstream.auth import Role, issue_dev_token
from ticketstream.devstack.topics import create_topics
from ticketstream.settings import PlatformSettings

T = TypeVar("T")
S = TypeVar("S", bound=PlatformSettings)


def settings_from(env: Mapping[str, str], settings_class: type[S], **overrides: Any) -> S:
    """Build settings from an explicit mapping, leaving os.environ alone."""
    values: dict[str, Any] = {
        name.removeprefix("TICKETSTREAM_").lower(): value
        for name, value in env.items()
        if name.startswith("TICKETSTREAM_")
    }
    values.update(overrides)
    return settings_class(**values)


async def eventually(
    probe: Callable[[], Awaitable[T]], *, timeout: float = 15.0, interval: float = 0.05
) -> T:
    """Poll `probe` until it returns something truthy; fail with the last value otherwise."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s; last value: {last!r}")


async def wait_for_assignment(app: FastAPI, *, timeout: float = 30.0) -> None:
    """Consumer-group joins take seconds; produce only once every subscriber has partitions."""
    broker = app.state.platform.broker

    async def assigned() -> bool:
        consumers = [getattr(subscriber, "consumer", None) for subscriber in broker.subscribers]
        return all(consumer is not None and consumer.assignment() for consumer in consumers)

    await eventually(assigned, timeout=timeout, interval=0.1)


@contextlib.asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run a service app's lifespan; yield an HTTP client once it consumes."""
    async with app.router.lifespan_context(app):
        await asyncio.wait_for(app.state.platform.connected.wait(), timeout=60)
        await wait_for_assignment(app)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            yield client


async def prepare_topics(settings: PlatformSettings) -> None:
    await create_topics(settings)


def bearer(
    settings: PlatformSettings, role: Role = Role.AGENT, sub: str = "alice", **claims: Any
) -> dict[str, str]:
    claims.setdefault("teams", ["support"])
    return {"Authorization": f"Bearer {issue_dev_token(settings, sub=sub, role=role, **claims)}"}


def make_email(
    *,
    sender: str = "Robin Customer <robin@example.com>",
    to: str = "support@ticketstream.local",
    subject: str = "Something is broken",
    body: str = "Hello, it does not work.",
    message_id: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = message_id or f"<{uuid.uuid4().hex}@example.com>"
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    return message.as_bytes()


@dataclass(frozen=True)
class Record:
    topic: str
    key: str | None
    headers: dict[str, str]
    value: bytes


async def read_topic(
    bootstrap: str, topic: str, *, until: Callable[[list[Record]], bool], timeout: float = 20.0
) -> list[Record]:
    """Read a topic from the beginning (no consumer group) until `until(records)` holds."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=20)
    await consumer.start()
    records: list[Record] = []
    try:
        partitions = await eventually(lambda: _partitions(consumer, topic), timeout=timeout)
        consumer.assign([TopicPartition(topic, p) for p in partitions])
        await consumer.seek_to_beginning()
        deadline = time.monotonic() + timeout
        while not until(records):
            if time.monotonic() > deadline:
                raise AssertionError(f"{topic}: condition not met; {len(records)} records read")
            batches = await consumer.getmany(timeout_ms=200)
            for batch in batches.values():
                records.extend(
                    Record(
                        m.topic,
                        m.key.decode() if m.key else None,
                        {k: v.decode() for k, v in m.headers},
                        m.value or b"",
                    )
                    for m in batch
                )
    finally:
        await consumer.stop()
    return records


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int] | None:
    await consumer._client.force_metadata_update()
    return consumer.partitions_for_topic(topic)


def ticket_snapshot(
    *,
    ref: str = "TKT-0001",
    priority: str = "MEDIUM",
    requester: str | None = "kim@example.com",
    source: str = "EMAIL",
    created_at: Any = None,
    thread: str | None = "<root@example.com>",
) -> Any:
    from datetime import UTC, datetime

    from ticketstream.contracts.models import Person, TicketSnapshot

    now = created_at or datetime.now(UTC)
    return TicketSnapshot(
        id=str(uuid.uuid4()),
        ref=ref,
        title=f"Title of {ref}",
        status="OPEN",
        priority=priority,
        source=source,
        requester=Person(email=requester, name="Kim Example") if requester else None,
        email_thread_id=thread,
        version=1,
        created_at=now,
        updated_at=now,
    )


def ticket_created(ticket: Any) -> Any:
    from ticketstream.contracts.events import TicketCreated

    return TicketCreated(
        ticket_id=ticket.id,
        ref=ticket.ref,
        sequence=1,
        actor="system",
        occurred_at=ticket.created_at,
        ticket=ticket,
    )


async def publish_events(
    settings: PlatformSettings, events: list[Any], *, event_ids: list[str] | None = None
) -> None:
    """Publish contract events as their producer would (keyed by ticket id when there is one)."""
    from ticketstream.broker import EventProducer
    from ticketstream.contracts import encode_event

    producer = EventProducer(settings)
    await producer.start()
    try:
        messages = [
            encode_event(
                event,
                service="test",
                key=getattr(event, "ticket_id", None) or "key",
                subject=getattr(event, "ref", None),
                event_id=event_ids[index] if event_ids else None,
            )
            for index, event in enumerate(events)
        ]
        assert await producer.publish_batch(messages) == [None] * len(messages)
    finally:
        await producer.stop()


async def all_tickets(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> list[dict]:
    """Every ticket the caller may see, page by page, from the tickets service at `url`."""
    tickets: list[dict] = []
    cursor = None
    while True:
        query = f"?limit=200&cursor={cursor}" if cursor else "?limit=200"
        page = (await client.get(f"{url}/v1/tickets{query}", headers=headers)).json()
        tickets.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return tickets
