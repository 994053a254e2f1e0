"""Delivers pending outgoing mail: through the relay when one is set, else keeps it (dev)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from ticketstream_notify import domain
from ticketstream_notify.senders import SmtpSender
from ticketstream_notify.store import NotifyStore

log = logging.getLogger(__name__)

IDLE_POLL_SECONDS = 0.5


class MailDispatcher:
    def __init__(self, store: NotifyStore, sender: SmtpSender | None) -> None:
        self._store = store
        self._sender = sender
        self._wake = asyncio.Event()

    def poke(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                while await self.deliver_one():
                    pass
            except Exception:
                log.exception("mail dispatch round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=IDLE_POLL_SECONDS)
            self._wake.clear()

    async def deliver_one(self) -> bool:
        claimed = await self._store.claim_due_mail(now=datetime.now(UTC))
        if claimed is None:
            return False
        mail_id, mail, attempts = claimed
        if self._sender is None:
            await self._store.mark_delivered(mail_id, mail, stored_only=True, now=datetime.now(UTC))
            return True
        try:
            await self._sender.send(mail)
        except Exception as error:  # noqa: BLE001 - every SMTP failure is retried, then reported
            attempts += 1
            now = datetime.now(UTC)
            retry_at = domain.next_attempt_at(now, attempts) if attempts < domain.MAX_MAIL_ATTEMPTS else None
            log.warning("mail %s to %s failed (attempt %d): %s", mail_id, mail.to, attempts, error)
            await self._store.mark_failed(
                mail_id, mail, error=str(error)[:500], attempts=attempts, retry_at=retry_at, now=now
            )
            return True
        await self._store.mark_delivered(mail_id, mail, stored_only=False, now=datetime.now(UTC))
        return True
