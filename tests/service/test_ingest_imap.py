"""The IMAP connector against a real IMAP server (dovecot), the real broker and the real database.

Every mailbox is a fresh dovecot user; messages are put in with IMAP APPEND. The connector's
`outcomes` count what the intake answered for each message handed to it, so a message fetched
twice shows up as a duplicate there even though it publishes nothing the second time.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI

from tests.dovecot import DovecotServer, DovecotUnavailableError, start_dovecot
from tests.helpers import bearer, eventually, make_email, prepare_topics, read_topic, running, settings_from
from ticketstream.auth import Role
from ticketstream.contracts import parse_event, topics
from ticketstream.contracts.events import InboundChannel, InboundMessageReceived
from ticketstream.db import create_mongo_client
from ticketstream_ingest.app import create_app
from ticketstream_ingest.imap import ImapConnector
from ticketstream_ingest.mailboxes import MailboxCursor
from ticketstream_ingest.settings import Settings
from ticketstream_ingest.store_mailboxes import MailboxStore

LEASE_SECONDS = 2.0


@pytest.fixture(scope="module")
def dovecot() -> Iterator[DovecotServer]:
    try:
        server = start_dovecot()
    except DovecotUnavailableError as error:
        pytest.fail(str(error), pytrace=False)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def dovecot_without_idle() -> Iterator[DovecotServer]:
    try:
        server = start_dovecot(capabilities="IMAP4rev1 LITERAL+ SASL-IR UIDPLUS")
    except DovecotUnavailableError as error:
        pytest.fail(str(error), pytrace=False)
    yield server
    server.stop()


@dataclass(frozen=True)
class Account:
    """One dovecot user read as one configured mailbox."""

    server: DovecotServer
    name: str
    username: str
    secret: str
    folder: str = "INBOX"

    @property
    def password(self) -> str:
        # A quote and a backslash around the secret: the password must reach the server intact.
        return f'pw"{self.secret}\\x'

    @property
    def mailbox(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "host": "127.0.0.1",
            "port": self.server.port,
            "username": self.username,
            "password": self.password,
            "folder": self.folder,
            "tls": False,
        }

    async def append(self, *subjects: str) -> list[bytes]:
        messages = [make_email(subject=subject) for subject in subjects]
        await self.append_raw(*messages)
        return messages

    async def append_raw(self, *messages: bytes) -> None:
        await self.server.append(self.username, self.password, list(messages), folder=self.folder)


def account(server: DovecotServer, name: str, *, folder: str = "INBOX", create: bool = True) -> Account:
    result = Account(server, name, f"{name}-{uuid.uuid4().hex[:8]}@example.com", uuid.uuid4().hex, folder)
    if create:
        server.add_user(result.username, result.password)
    return result


def imap_settings(infra_env: dict[str, str], *accounts: Account) -> Settings:
    return settings_from(
        infra_env,
        Settings,
        smtp_port=0,
        imap_mailboxes=[item.mailbox for item in accounts],
        imap_poll_seconds=1.0,
        imap_lease_seconds=LEASE_SECONDS,
    )


def connector(app: FastAPI) -> ImapConnector:
    found: ImapConnector = app.state.imap_connector
    return found


async def caught_up(app: FastAPI, expected: dict[str, int]) -> None:
    """Wait until the app has read each named mailbox up to the given UID."""

    async def probe() -> bool:
        current = connector(app).caught_up
        return all(current.get(name) == uid for name, uid in expected.items())

    await eventually(probe, timeout=20)


async def cursor_of(app: FastAPI, name: str) -> MailboxCursor | None:
    reader = MailboxStore(app.state.platform.database, replica="reader", lease=timedelta(seconds=1))
    return await reader.cursor(mailbox=name)


async def inbound_events(settings: Settings, count: int) -> list[InboundMessageReceived]:
    records = await read_topic(
        settings.kafka_bootstrap, settings.topic(topics.INBOUND), until=lambda r: len(r) >= count
    )
    events = [parse_event(record.headers, record.value).data for record in records]
    assert all(isinstance(event, InboundMessageReceived) for event in events)
    return events  # type: ignore[return-value]


def subjects(events: list[InboundMessageReceived]) -> Counter[str]:
    return Counter(event.subject for event in events)


async def test_mailboxes_are_read_in_parallel_and_resume_from_their_cursor_after_a_restart(
    infra_env, dovecot
):
    alice, bob = account(dovecot, "alice"), account(dovecot, "bob")
    settings = imap_settings(infra_env, alice, bob)
    await prepare_topics(settings)
    await alice.append("a1", "a2", "a3")
    await bob.append("b1", "b2")

    first = create_app(settings)
    async with running(first):
        await caught_up(first, {"alice": 3, "bob": 2})
        assert connector(first).following == {"alice", "bob"}
        await bob.append("b3")  # while the connector waits in IDLE
        await caught_up(first, {"bob": 3})
        assert connector(first).outcomes == Counter({("alice", "accepted"): 3, ("bob", "accepted"): 3})

    events = await inbound_events(settings, 6)
    assert subjects(events) == Counter(["a1", "a2", "a3", "b1", "b2", "b3"])
    assert {event.channel for event in events} == {InboundChannel.IMAP}

    await alice.append("a4")  # arrives while no replica runs
    second = create_app(settings)
    async with running(second):
        await caught_up(second, {"alice": 4, "bob": 3})
        # Only the new message went through the intake: nothing was fetched again.
        assert connector(second).outcomes == Counter({("alice", "accepted"): 1})
        cursor = await cursor_of(second, "alice")
        assert cursor == MailboxCursor(
            "alice", f"{alice.username}@127.0.0.1:{dovecot.port}/INBOX", cursor.uidvalidity, 4
        )
        assert cursor.uidvalidity == await dovecot.uidvalidity(alice.username, alice.password)
        # The first replica's outbox-relay lease must lapse before this one publishes.
        events = await inbound_events(settings, 7)
    assert len(events) == 7
    assert subjects(events)["a4"] == 1


async def test_replicas_share_the_mailboxes_and_one_carries_on_when_the_other_stops(infra_env, dovecot):
    north, south = account(dovecot, "north"), account(dovecot, "south")
    settings = imap_settings(infra_env, north, south)
    await prepare_topics(settings)
    one, two = create_app(settings), create_app(settings)  # two replicas on one database
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(running(one))
        second = contextlib.AsyncExitStack()
        await second.enter_async_context(running(two))

        async def split() -> bool:
            mine, theirs = connector(one).following, connector(two).following
            return len(mine) == 1 and len(theirs) == 1 and mine | theirs == {"north", "south"}

        await eventually(split, timeout=20)
        [one_reads] = connector(one).following
        [two_reads] = connector(two).following
        await caught_up(one, {one_reads: 0})
        await caught_up(two, {two_reads: 0})

        await north.append("n1", "n2")
        await south.append("s1", "s2")
        await caught_up(one, {one_reads: 2})
        await caught_up(two, {two_reads: 2})
        # Each message went through exactly one replica's intake, once.
        assert connector(one).outcomes == Counter({(one_reads, "accepted"): 2})
        assert connector(two).outcomes == Counter({(two_reads, "accepted"): 2})

        await second.aclose()  # the other replica stops and gives its mailbox back
        await caught_up(one, {two_reads: 2})
        assert connector(one).following == {"north", "south"}
        await (north if two_reads == "north" else south).append("late")
        await caught_up(one, {two_reads: 3})
        assert connector(one).outcomes == Counter({(one_reads, "accepted"): 2, (two_reads, "accepted"): 1})
        events = await inbound_events(settings, 5)
    assert subjects(events) == Counter(["n1", "n2", "s1", "s2", "late"])


async def test_a_dead_replicas_mailbox_is_taken_over_once_its_lease_expires(infra_env, dovecot):
    east = account(dovecot, "east")
    settings = imap_settings(infra_env, east)
    await prepare_topics(settings)
    await east.append("waiting")
    # A replica that took the mailbox and died: it never renews nor releases its lease.
    client = create_mongo_client(settings)
    try:
        ghost = MailboxStore(
            client[settings.database_name], replica="ghost", lease=timedelta(seconds=LEASE_SECONDS)
        )
        taken_at = datetime.now(UTC)
        assert (await ghost.hold(mailboxes=["east"], now=taken_at)).mine == {"east"}
    finally:
        await client.close()

    app = create_app(settings)
    async with running(app):
        await caught_up(app, {"east": 1})
        [event] = await inbound_events(settings, 1)
    assert connector(app).outcomes == Counter({("east", "accepted"): 1})
    assert event.subject == "waiting"
    assert event.received_at >= taken_at + timedelta(seconds=LEASE_SECONDS)


async def test_a_renumbered_folder_is_read_again_from_its_first_message(infra_env, dovecot):
    queue = account(dovecot, "queue", folder="Support Queue")
    settings = imap_settings(infra_env, queue)
    await prepare_topics(settings)
    [first, _] = await queue.append("q1", "q2")

    app = create_app(settings)
    async with running(app):
        await caught_up(app, {"queue": 2})
        before = await cursor_of(app, "queue")
        assert before is not None
        assert before.last_uid == 2

        await dovecot.recreate_folder(queue.username, queue.password, queue.folder)
        renumbered = await dovecot.uidvalidity(queue.username, queue.password, queue.folder)
        assert renumbered != before.uidvalidity
        await queue.append_raw(first)  # UID 1 again, now a message received before
        await queue.append("q3", "q4")  # UIDs 2 and 3: at or below the old cursor

        async def read_again() -> bool:
            cursor = await cursor_of(app, "queue")
            return cursor is not None and cursor.uidvalidity == renumbered and cursor.last_uid == 3

        await eventually(read_again, timeout=20)
        await caught_up(app, {"queue": 3})
        events = await inbound_events(settings, 4)
    assert connector(app).outcomes == Counter({("queue", "accepted"): 4, ("queue", "duplicate"): 1})
    assert subjects(events) == Counter(["q1", "q2", "q3", "q4"])


async def test_input_that_is_not_an_email_is_passed_over_once(infra_env, dovecot):
    west = account(dovecot, "west")
    settings = imap_settings(infra_env, west)
    await prepare_topics(settings)
    await west.append_raw(b"just some words, no headers at all\r\n")
    await west.append("after the noise")

    app = create_app(settings)
    async with running(app) as client:
        await caught_up(app, {"west": 2})
        [event] = await inbound_events(settings, 1)
        metrics = (await client.get("/metrics")).text
    assert connector(app).outcomes == Counter({("west", "invalid"): 1, ("west", "accepted"): 1})
    assert event.subject == "after the noise"
    assert 'ticketstream_imap_messages_total{mailbox="west",outcome="invalid"} 1.0' in metrics
    assert 'ticketstream_imap_messages_total{mailbox="west",outcome="accepted"} 1.0' in metrics


async def test_a_refused_login_is_retried_without_logging_the_password(infra_env, dovecot, caplog):
    late = account(dovecot, "late", create=False)  # the server does not know the user yet
    settings = imap_settings(infra_env, late)
    await prepare_topics(settings)
    caplog.set_level(logging.DEBUG)  # every library's debug log too: none may show the password

    app = create_app(settings)
    async with running(app) as client:

        async def refused() -> bool:
            return "refused the login" in caplog.text

        await eventually(refused, timeout=20)
        assert (await client.get("/healthz")).status_code == 200
        dovecot.add_user(late.username, late.password)
        await late.append("finally")
        await caught_up(app, {"late": 1})
        [event] = await inbound_events(settings, 1)
    assert event.subject == "finally"
    assert late.secret not in caplog.text  # in no form, escaped or not


async def test_a_server_without_idle_is_polled(infra_env, dovecot_without_idle):
    plain = account(dovecot_without_idle, "plain")
    settings = imap_settings(infra_env, plain)
    await prepare_topics(settings)
    await plain.append("before")

    app = create_app(settings)
    async with running(app):
        await caught_up(app, {"plain": 1})
        await plain.append("after")  # seen at the next poll, a second later at most
        await caught_up(app, {"plain": 2})
        events = await inbound_events(settings, 2)
    assert connector(app).outcomes == Counter({("plain", "accepted"): 2})
    assert subjects(events) == Counter(["before", "after"])


async def test_a_message_over_the_size_limit_is_held_with_its_headers_and_left_in_the_mailbox(
    infra_env, dovecot
):
    north = account(dovecot, "north")
    settings = settings_from(
        infra_env,
        Settings,
        smtp_port=0,
        imap_mailboxes=[north.mailbox],
        imap_poll_seconds=1.0,
        imap_lease_seconds=LEASE_SECONDS,
        inbound_max_bytes=16 * 1024,
    )
    await prepare_topics(settings)
    await north.append_raw(
        make_email(subject="Huge export", body="x" * (40 * 1024), message_id="<huge@example.com>")
    )
    await north.append("small one after it")

    app = create_app(settings)
    async with running(app) as client:
        await caught_up(app, {"north": 2})
        [event] = await inbound_events(settings, 1)
        held = (await client.get("/v1/quarantine", headers=bearer(settings, Role.ADMIN))).json()["items"]
    assert event.subject == "small one after it"
    assert connector(app).outcomes == Counter({("north", "oversize"): 1, ("north", "accepted"): 1})
    assert [(h["reason"], h["subject"], h["message_id"], h["channel"]) for h in held] == [
        ("oversize", "Huge export", "<huge@example.com>", "IMAP")
    ]
    assert "only its headers are kept, the message itself stays in IMAP mailbox north" in held[0]["detail"]
