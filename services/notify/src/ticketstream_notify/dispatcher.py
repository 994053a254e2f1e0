"""Delivers pending outgoing mail: through the relay when one is set, else keeps it (dev).

With storm protection wired in, each claimed mail first meets the suppression list (a bounced
address gets nothing), then the recipient's budget (mail over it is held for a digest), and a
digest is built for every recipient whose held mail is due."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import aiosmtplib

from ticketstream_notify import digests, domain, suppression
from ticketstream_notify.digests import MailBudget
from ticketstream_notify.senders import SmtpSender
from ticketstream_notify.store import MailStatus, NotifyStore
from ticketstream_notify.store_digests import DigestStore
from ticketstream_notify.store_suppression import SuppressionStore

log = logging.getLogger(__name__)

IDLE_POLL_SECONDS = 0.5
# Deliveries between two looks for due digests, so a steady stream of mail cannot starve them.
DELIVERIES_PER_ROUND = 50


@dataclass(frozen=True)
class StormProtection:
    """What the dispatcher consults before sending: the suppression list and the budgets."""

    suppressions: SuppressionStore
    digests: DigestStore
    budget: MailBudget
    support_address: str


class MailDispatcher:
    def __init__(
        self, store: NotifyStore, sender: SmtpSender | None, *, protection: StormProtection | None = None
    ) -> None:
        self._store = store
        self._sender = sender
        self._protection = protection
        self._wake = asyncio.Event()

    def poke(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                while await self.build_one_digest():
                    pass
                delivered = 0
                while delivered < DELIVERIES_PER_ROUND and await self.deliver_one():
                    delivered += 1
                if delivered == DELIVERIES_PER_ROUND:
                    continue  # more may be due: no idle wait
            except Exception:
                log.exception("mail dispatch round failed")
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation that
            # lands as the event is set, and the loop would then outlive its service's shutdown.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(IDLE_POLL_SECONDS):
                    await self._wake.wait()
            self._wake.clear()

    async def deliver_one(self) -> bool:
        claimed = await self._store.claim_due_mail(now=datetime.now(UTC))
        if claimed is None:
            return False
        mail_id, mail, attempts = claimed
        if self._protection is not None and await self._kept_back(mail_id, mail, attempts):
            return True
        if self._sender is None:
            await self._store.mark_delivered(mail_id, mail, stored_only=True, now=datetime.now(UTC))
            return True
        try:
            await self._sender.send(mail)
        except Exception as error:  # noqa: BLE001 - every SMTP failure is retried, then reported
            await self._after_failure(mail_id, mail, attempts + 1, error)
            return True
        await self._store.mark_delivered(mail_id, mail, stored_only=False, now=datetime.now(UTC))
        return True

    async def _kept_back(self, mail_id: str, mail: domain.OutgoingEmail, attempts: int) -> bool:
        """Fail mail to a suppressed address, or hold mail over the recipient's budget."""
        assert self._protection is not None
        now = datetime.now(UTC)
        suppressed = await self._protection.suppressions.find(mail.to)
        if suppressed is not None:
            await self._store.mark_failed(
                mail_id,
                mail,
                error=suppression.suppressed_error(suppressed),
                attempts=attempts,
                retry_at=None,
                now=now,
                status=MailStatus.SUPPRESSED,
            )
            return True
        budget = self._protection.budget
        # A retry already counted against the budget when it was first tried.
        if attempts > 0 or not budget.enabled or not digests.takes_part(mail):
            return False
        hold_until = await self._protection.digests.take_send_slot(mail.to, budget=budget, now=now)
        if hold_until is None:
            return False
        await self._protection.digests.hold(mail_id, until=hold_until)
        return True

    async def _after_failure(
        self, mail_id: str, mail: domain.OutgoingEmail, attempts: int, error: Exception
    ) -> None:
        now = datetime.now(UTC)
        rejection = permanent_rejection(error)
        if rejection is not None and self._protection is not None:
            code, message = rejection
            await self._protection.suppressions.suppress(
                suppression.from_rejection(mail.to, code=code, message=message, now=now)
            )
            retry_at = None  # the relay will refuse this recipient again
        else:
            retry_at = domain.next_attempt_at(now, attempts) if attempts < domain.MAX_MAIL_ATTEMPTS else None
        log.warning("mail %s to %s failed (attempt %d): %s", mail_id, mail.to, attempts, error)
        await self._store.mark_failed(
            mail_id, mail, error=str(error)[:500], attempts=attempts, retry_at=retry_at, now=now
        )

    async def build_one_digest(self) -> bool:
        """Build the digest of one recipient whose held mail is due; False when none is."""
        if self._protection is None:
            return False
        now = datetime.now(UTC)
        due = await self._protection.digests.recipient_with_due_digest(now=now)
        if due is None:
            return False
        recipient, audience = due
        items = await self._protection.digests.build_digest(
            recipient, audience=audience, support_address=self._protection.support_address, now=now
        )
        log.info("digest of %d held mails queued for %s", items, recipient)
        return True


def permanent_rejection(error: Exception) -> tuple[int, str] | None:
    """(code, message) when the relay refused the recipient with a 5xx reply."""
    refusals: list[aiosmtplib.SMTPRecipientRefused] = []
    if isinstance(error, aiosmtplib.SMTPRecipientRefused):
        refusals = [error]
    elif isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        refusals = list(error.recipients)
    for refusal in refusals:
        if suppression.is_permanent_rejection(refusal.code):
            return refusal.code, refusal.message
    return None
