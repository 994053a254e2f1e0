"""The IMAP connector: pulls new mail from existing mailboxes into the email intake.

Each replica holds leases on its fair share of the configured mailboxes (store_mailboxes) and
follows each leased mailbox in its own task: log in, select the folder, fetch every message
above the stored UID cursor in batches, hand each raw message to the intake and only then move
the cursor. Delivery is at least once: a crash between the intake and the cursor fetches the
message again and the intake's de-duplication answers "duplicate". When the folder's UIDVALIDITY
changed the mailbox is read from its beginning, for the same reason harmlessly.
Errors never stop the service: a mailbox task reconnects with backoff, the lease loop retries.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry
from prometheus_client import Counter as MetricCounter

from ticketstream.contracts.events import InboundChannel
from ticketstream.service import ServicePlatform
from ticketstream_ingest.domain import InvalidEmailError
from ticketstream_ingest.imap_client import ImapError, ImapSession
from ticketstream_ingest.intake import EmailIntake
from ticketstream_ingest.mailboxes import batches, resume_point, uids_to_fetch
from ticketstream_ingest.settings import ImapMailbox, Settings
from ticketstream_ingest.store_mailboxes import MailboxStore

log = logging.getLogger(__name__)

FETCH_BATCH = 20  # messages per UID FETCH of bodies
RECONNECT_FIRST_SECONDS = 1.0
RECONNECT_MAX_SECONDS = 60.0
Clock = Callable[[], datetime]


class LeaseLostError(Exception):
    """Another replica holds the mailbox now: this one stops following it."""


class ImapConnector:
    def __init__(
        self,
        intake: EmailIntake,
        store: MailboxStore,
        settings: Settings,
        *,
        registry: CollectorRegistry,
        clock: Clock = lambda: datetime.now(UTC),
    ) -> None:
        self._intake = intake
        self._store = store
        self._settings = settings
        self._clock = clock
        self._mailboxes = {mailbox.name: mailbox for mailbox in settings.imap_mailboxes}
        self._followers: dict[str, asyncio.Task[None]] = {}
        self._leasing: asyncio.Task[None] | None = None
        self._held_until = datetime.min.replace(tzinfo=UTC)
        # What became of each message fetched, per mailbox and outcome (accepted, duplicate,
        # quarantined, invalid, oversize): a message fetched twice shows up twice.
        self.outcomes: Counter[tuple[str, str]] = Counter()
        self._messages = MetricCounter(
            "ticketstream_imap_messages",
            "Messages the IMAP connector fetched, by mailbox and what became of them",
            ["mailbox", "outcome"],
            registry=registry,
        )
        # Per mailbox, the cursor at the last moment this replica had read everything listed.
        self.caught_up: dict[str, int] = {}

    @property
    def following(self) -> frozenset[str]:
        """The mailboxes this replica is reading now."""
        return frozenset(name for name, task in self._followers.items() if not task.done())

    async def start(self) -> None:
        # aioimaplib's debug log prints every line sent, LOGIN included: it masks the password
        # only where it appears unescaped, so one with a quote or backslash would show.
        library_log = logging.getLogger("aioimaplib")
        library_log.setLevel(max(library_log.getEffectiveLevel(), logging.INFO))
        self._leasing = asyncio.create_task(self._hold_leases(), name="imap-leases")
        log.info("IMAP connector started for %d mailbox(es)", len(self._mailboxes))

    async def stop(self) -> None:
        """Stop reading, then give the leases back so another replica carries on at once."""
        tasks = [task for task in (self._leasing, *self._followers.values()) if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._followers.clear()
        try:
            await self._store.release_all(now=self._clock())
        except Exception as error:  # noqa: BLE001 - the leases then expire on their own
            log.warning("could not release the IMAP mailbox leases: %s", type(error).__name__)

    # --- leases ------------------------------------------------------------------------------

    async def _hold_leases(self) -> None:
        lease = self._settings.imap_lease_seconds
        # Renew well before expiry: a missed round or two must not hand the mailboxes over.
        interval = lease / 3
        while True:
            now = self._clock()
            try:
                holding = await self._store.hold(mailboxes=list(self._mailboxes), now=now)
                self._held_until = now + timedelta(seconds=lease)
                await self._hand_over(holding.excess)
                self._follow_only(holding.mine)
            except Exception as error:  # noqa: BLE001 - the database may be away for a while
                log.warning("could not renew the IMAP mailbox leases: %s", type(error).__name__)
                # Past the lease another replica may be reading them: stop until renewed.
                if self._clock() >= self._held_until:
                    self._follow_only(frozenset())
            await asyncio.sleep(interval)

    async def _hand_over(self, mailboxes: frozenset[str]) -> None:
        """Stop reading mailboxes above this replica's share, then release them for another."""
        if not mailboxes:
            return
        stopping = [self._followers.pop(name) for name in mailboxes if name in self._followers]
        for task in stopping:
            task.cancel()
        await asyncio.gather(*stopping, return_exceptions=True)
        await self._store.release(mailboxes=sorted(mailboxes), now=self._clock())
        log.info("IMAP mailboxes handed over to other replicas: %s", ", ".join(sorted(mailboxes)))

    def _follow_only(self, held: frozenset[str]) -> None:
        for name, task in list(self._followers.items()):
            if name not in held:
                task.cancel()
                del self._followers[name]
                log.info("IMAP mailbox %s is no longer held; stopped reading it", name)
            elif task.done():
                del self._followers[name]
        for name in sorted(held - self._followers.keys()):
            self._followers[name] = asyncio.create_task(
                self._follow(self._mailboxes[name]), name=f"imap-{name}"
            )

    # --- one mailbox -------------------------------------------------------------------------

    async def _follow(self, mailbox: ImapMailbox) -> None:
        """Read one mailbox until cancelled or until its lease is lost, reconnecting on errors."""
        backoff = RECONNECT_FIRST_SECONDS
        while True:
            healthy = asyncio.Event()  # set once a session has read everything it listed
            try:
                await self._sync(mailbox, healthy)
            except LeaseLostError:
                log.info("IMAP mailbox %s is held by another replica now", mailbox.name)
                return
            except asyncio.CancelledError:
                raise
            except ImapError as error:
                backoff = RECONNECT_FIRST_SECONDS if healthy.is_set() else backoff
                log.warning("IMAP mailbox %s: %s; reconnecting in %.0f s", mailbox.name, error, backoff)
            except Exception:  # the intake or the database failed: retry later
                backoff = RECONNECT_FIRST_SECONDS if healthy.is_set() else backoff
                log.warning(
                    "IMAP mailbox %s failed; reconnecting in %.0f s", mailbox.name, backoff, exc_info=True
                )
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, RECONNECT_MAX_SECONDS)

    async def _sync(self, mailbox: ImapMailbox, healthy: asyncio.Event) -> None:
        session = await ImapSession.open(mailbox)
        try:
            uidvalidity, after = session.uidvalidity, await self._resume(mailbox, session.uidvalidity)
            while True:
                after = await self._drain(mailbox, session, after)
                self.caught_up[mailbox.name] = after
                healthy.set()
                await session.wait_for_news(self._settings.imap_poll_seconds)
                if await session.select() != uidvalidity:
                    uidvalidity, after = session.uidvalidity, await self._resume(mailbox, session.uidvalidity)
        finally:
            await session.close()

    async def _resume(self, mailbox: ImapMailbox, uidvalidity: int) -> int:
        cursor = await self._store.cursor(mailbox=mailbox.name)
        point = resume_point(cursor, source=mailbox.source, uidvalidity=uidvalidity)
        if point.restart is not None:
            if cursor is None:
                log.info("IMAP mailbox %s: %s", mailbox.name, point.restart.value)
            else:
                log.warning(
                    "IMAP mailbox %s: %s (UIDVALIDITY %d, now %d); reading the folder again from "
                    "its first message, messages already received count as duplicates",
                    mailbox.name,
                    point.restart.value,
                    cursor.uidvalidity,
                    uidvalidity,
                )
            if not await self._store.restart(
                mailbox=mailbox.name, source=mailbox.source, uidvalidity=uidvalidity, now=self._clock()
            ):
                raise LeaseLostError(mailbox.name)
        return point.after_uid

    async def _drain(self, mailbox: ImapMailbox, session: ImapSession, after: int) -> int:
        """Hand every message above `after` to the intake, oldest first; the new cursor."""
        pending = uids_to_fetch(await session.uids_after(after), after_uid=after)
        for batch in batches(pending, FETCH_BATCH):
            sizes = await session.sizes(batch)
            wanted = [uid for uid in batch if sizes.get(uid, 0) <= self._settings.inbound_max_bytes]
            bodies = await session.bodies(wanted) if wanted else {}
            for uid in batch:
                raw = bodies.get(uid)
                if raw is not None:
                    await self._receive(mailbox, uid, raw)
                elif sizes.get(uid, 0) > self._settings.inbound_max_bytes:
                    await self._hold_oversize(mailbox, session, uid, sizes[uid])
                # Otherwise the UID was expunged between the listing and the fetch.
                if not await self._store.advance(
                    mailbox=mailbox.name, uidvalidity=session.uidvalidity, uid=uid, now=self._clock()
                ):
                    raise LeaseLostError(mailbox.name)
                after = uid
        return after

    async def _receive(self, mailbox: ImapMailbox, uid: int, raw: bytes) -> None:
        try:
            result = await self._intake.receive(raw, channel=InboundChannel.IMAP, now=self._clock())
        except InvalidEmailError as error:
            # Not an email at all: retrying cannot help, so it is recorded and passed over.
            log.warning(
                "IMAP mailbox %s: message UID %d is not an email (%s); skipped", mailbox.name, uid, error
            )
            self._count(mailbox, "invalid")
            return
        self._count(mailbox, result.status.value)
        log.debug(
            "IMAP mailbox %s: UID %d %s as %s", mailbox.name, uid, result.status.value, result.inbound_id
        )

    async def _hold_oversize(self, mailbox: ImapMailbox, session: ImapSession, uid: int, size: int) -> None:
        """Quarantine the headers of a message too large to take, so an admin sees it; the
        message itself stays in the mailbox."""
        header = (await session.headers([uid])).get(uid, b"")
        result = await self._intake.hold_oversize(
            header,
            size=size,
            channel=InboundChannel.IMAP,
            now=self._clock(),
            where=f"IMAP mailbox {mailbox.name}",
        )
        log.warning(
            "IMAP mailbox %s: message UID %d has %d bytes, above the %d-byte limit; held as %s",
            mailbox.name,
            uid,
            size,
            self._settings.inbound_max_bytes,
            result.inbound_id,
        )
        self._count(mailbox, "oversize")

    def _count(self, mailbox: ImapMailbox, outcome: str) -> None:
        self.outcomes[mailbox.name, outcome] += 1
        self._messages.labels(mailbox.name, outcome).inc()


def create_imap_connector(
    intake: EmailIntake, platform: ServicePlatform, settings: Settings
) -> ImapConnector | None:
    """The connector of this replica, or None when no mailbox is configured (connector off)."""
    if not settings.imap_mailboxes:
        return None
    store = MailboxStore(
        platform.database,
        replica=f"ingest-{uuid.uuid4().hex[:12]}",
        lease=timedelta(seconds=settings.imap_lease_seconds),
    )
    return ImapConnector(intake, store, settings, registry=platform.metrics.registry)
