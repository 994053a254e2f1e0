"""One IMAP connection with one folder selected, over aioimaplib.

Only what the connector needs: log in, select (read-write, so the server reports new mail),
list UIDs, fetch sizes and bodies without setting \\Seen (BODY.PEEK: the mailbox is left as its
people see it), and wait for new mail with IDLE when the server offers it.
Errors are raised as ImapError with a text that is safe to log: never the password.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import aioimaplib

from ticketstream_ingest.imap_responses import (
    ImapResponseError,
    Lines,
    fetched_bodies,
    fetched_sizes,
    quoted,
    searched_uids,
    uidvalidity_of,
)
from ticketstream_ingest.mailboxes import uid_set
from ticketstream_ingest.settings import ImapMailbox

COMMAND_TIMEOUT_SECONDS = 30.0
LOGOUT_SECONDS = 2.0

T = TypeVar("T")


class ImapError(Exception):
    """The IMAP server or the connection failed; the message names no secret."""


class ImapSession:
    def __init__(self, client: aioimaplib.IMAP4, *, mailbox: ImapMailbox, lost: asyncio.Event) -> None:
        self._client = client
        self._mailbox = mailbox
        self._lost = lost
        self.uidvalidity = 0

    @classmethod
    async def open(cls, mailbox: ImapMailbox, *, timeout: float = COMMAND_TIMEOUT_SECONDS) -> ImapSession:
        """Connect, log in and select the mailbox's folder."""
        lost = asyncio.Event()

        def connection_lost(_: Exception | None) -> None:
            lost.set()

        # Plain IMAP4 with a TLS context rather than IMAP4_SSL: only it reports a lost connection.
        client = aioimaplib.IMAP4(
            host=mailbox.host,
            port=mailbox.port,
            timeout=timeout,
            conn_lost_cb=connection_lost,
            ssl_context=ssl.create_default_context() if mailbox.tls else None,
        )
        session = cls(client, mailbox=mailbox, lost=lost)
        try:
            await session._start()
        except BaseException:
            session._abort()
            raise
        return session

    async def _start(self) -> None:
        where = f"{self._mailbox.host}:{self._mailbox.port}"
        try:
            await self._client.wait_hello_from_server()
        except (OSError, TimeoutError, aioimaplib.AioImapException) as error:
            raise ImapError(f"cannot connect to {where}: {_reason(error)}") from None
        password = self._mailbox.password.get_secret_value()
        login = await self._command(
            "LOGIN", lambda: self._client.login(quoted(self._mailbox.username), password)
        )
        if login.result != "OK":
            raise ImapError(f"{where} refused the login of {self._mailbox.username}: {_text(login.lines)}")
        await self.select()

    async def select(self) -> int:
        """(Re-)open the folder; returns its UIDVALIDITY. Selecting again is how a long session
        learns that the folder was renumbered: a server may keep the old view until then."""
        selected = await self._command("SELECT", lambda: self._client.select(quoted(self._mailbox.folder)))
        if selected.result != "OK":
            where = f"{self._mailbox.host}:{self._mailbox.port}"
            raise ImapError(f"{where} cannot open folder {self._mailbox.folder}: {_text(selected.lines)}")
        try:
            self.uidvalidity = uidvalidity_of(selected.lines)
        except ImapResponseError as error:
            raise ImapError(str(error)) from None
        return self.uidvalidity

    async def uids_after(self, uid: int) -> list[int]:
        """UIDs the server lists from `uid + 1` on (may include the newest even when lower)."""
        answer = await self._ok(
            "UID SEARCH", lambda: self._client.uid_search(f"UID {uid + 1}:*", charset=None)
        )
        return searched_uids(answer)

    async def sizes(self, uids: Sequence[int]) -> dict[int, int]:
        answer = await self._ok(
            "UID FETCH", lambda: self._client.uid("fetch", uid_set(uids), "(UID RFC822.SIZE)")
        )
        return fetched_sizes(answer)

    async def bodies(self, uids: Sequence[int]) -> dict[int, bytes]:
        answer = await self._ok(
            "UID FETCH", lambda: self._client.uid("fetch", uid_set(uids), "(UID BODY.PEEK[])")
        )
        try:
            return fetched_bodies(answer)
        except ImapResponseError as error:
            raise ImapError(str(error)) from None

    async def headers(self, uids: Sequence[int]) -> dict[int, bytes]:
        """The header blocks only: what is kept of a message too large to fetch whole."""
        answer = await self._ok(
            "UID FETCH", lambda: self._client.uid("fetch", uid_set(uids), "(UID BODY.PEEK[HEADER])")
        )
        try:
            return fetched_bodies(answer)
        except ImapResponseError as error:
            raise ImapError(str(error)) from None

    async def wait_for_news(self, seconds: float) -> None:
        """Return when the server reports a change to the folder, or after `seconds`."""
        if not self._client.has_capability("IDLE"):
            await asyncio.sleep(seconds)
            await self._ok("NOOP", self._client.noop)
            return
        idle = await self._command("IDLE", lambda: self._client.idle_start(timeout=seconds))
        push = asyncio.ensure_future(self._client.wait_server_push(timeout=seconds + 1))
        lost = asyncio.ensure_future(self._lost.wait())
        try:
            await asyncio.wait({push, lost}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in (push, lost):
                waiter.cancel()
        self._check_connected()
        self._client.idle_done()
        await self._command("IDLE", lambda: asyncio.wait_for(idle, COMMAND_TIMEOUT_SECONDS))

    async def close(self) -> None:
        """Log out politely when the connection still works; close it in any case."""
        if not self._lost.is_set():
            with contextlib.suppress(Exception):
                if self._client.has_pending_idle():
                    # LOGOUT would queue behind the IDLE: end it first (a task cancelled in IDLE).
                    self._client.idle_done()
                await asyncio.wait_for(self._client.logout(), LOGOUT_SECONDS)
        self._abort()

    def _abort(self) -> None:
        transport = getattr(self._client.protocol, "transport", None)
        if transport is not None:
            transport.close()

    def _check_connected(self) -> None:
        if self._lost.is_set():
            raise ImapError(f"{self._mailbox.host}:{self._mailbox.port} closed the connection")

    async def _command(self, name: str, send: Callable[[], Awaitable[T]]) -> T:
        self._check_connected()
        try:
            return await send()
        except (OSError, TimeoutError, aioimaplib.AioImapException) as error:
            # aioimaplib's errors may quote the command, and LOGIN's carries the password.
            raise ImapError(f"{name} failed: {_reason(error)}") from None

    async def _ok(self, name: str, send: Callable[[], Awaitable[aioimaplib.Response]]) -> Lines:
        answer = await self._command(name, send)
        if answer.result != "OK":
            raise ImapError(f"{name} answered {answer.result}: {_text(answer.lines)}")
        lines: Lines = answer.lines
        return lines


def _reason(error: BaseException) -> str:
    if isinstance(error, TimeoutError | aioimaplib.CommandTimeout):
        return "timed out"
    if isinstance(error, OSError):
        return error.strerror or type(error).__name__
    return type(error).__name__


def _text(lines: Lines) -> str:
    last = lines[-1] if lines else b""
    return bytes(last).decode("utf-8", "replace")[:200] or "no reason given"
