"""Attempts due webhook deliveries: sign, send, then record success, a retry or the give-up,
and switch off a subscription that keeps failing."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from ticketstream_notify import webhook_signing, webhooks
from ticketstream_notify.settings import Settings
from ticketstream_notify.store_webhook_deliveries import WebhookDeliveryStore
from ticketstream_notify.store_webhook_documents import ClaimedDelivery
from ticketstream_notify.webhook_sender import WebhookSender
from ticketstream_notify.webhooks import Attempt, AttemptOutcome, DisablePolicy, SubscriptionHealth

log = logging.getLogger(__name__)

IDLE_POLL_SECONDS = 0.5
LEASE_MARGIN = timedelta(seconds=30)


class WebhookDispatcher:
    def __init__(self, store: WebhookDeliveryStore, sender: WebhookSender, settings: Settings) -> None:
        self._store = store
        self._sender = sender
        self._schedule = settings.webhook_retry_schedule_seconds
        self._window = timedelta(seconds=settings.webhook_retry_window_seconds)
        self._lease = timedelta(seconds=settings.webhook_timeout_seconds) + LEASE_MARGIN
        self._workers = settings.webhook_concurrency
        self._policy = DisablePolicy(
            failed_deliveries=settings.webhook_disable_after_failed_deliveries,
            failing_for=timedelta(seconds=settings.webhook_disable_after_failing_seconds),
        )
        self._wake = asyncio.Event()

    def poke(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        try:
            await asyncio.gather(*(self._work() for _ in range(self._workers)))
        finally:
            await self._sender.close()

    async def _work(self) -> None:
        while True:
            try:
                while await self.deliver_one():
                    pass
            except Exception:
                log.exception("webhook dispatch round failed")
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation that
            # lands as the event is set, and the loop would then outlive its service's shutdown.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(IDLE_POLL_SECONDS):
                    await self._wake.wait()
            self._wake.clear()

    async def deliver_one(self) -> bool:
        """Attempt one due delivery; False when none is due."""
        claimed = await self._store.claim_due_delivery(now=datetime.now(UTC), lease=self._lease)
        if claimed is None:
            return False
        delivery = claimed.delivery
        subscription = await self._store.subscription_or_none(delivery.subscription_id)
        is_ping = delivery.event_type == webhooks.PING_EVENT_TYPE
        if subscription is None or (not subscription.enabled and not is_ping):
            await self._store.skip(claimed, reason="subscription disabled or deleted", now=datetime.now(UTC))
            return True
        withheld = webhooks.withheld_reason(subscription, delivery)
        if withheld is not None:
            await self._store.skip(claimed, reason=withheld, now=datetime.now(UTC))
            return True
        started = datetime.now(UTC)
        body = delivery.body.encode()
        headers = webhook_signing.signing_headers(
            subscription.signing_secrets(started),
            message_id=delivery.id,
            timestamp=int(started.timestamp()),
            body=body,
        )
        result = await self._sender.send(subscription.url, body=body, headers=headers)
        outcome = webhooks.classify_response(result.status_code)
        attempt = Attempt(
            at=started,
            status_code=result.status_code,
            error=result.error,
            duration_ms=result.duration_ms,
            outcome=outcome,
        )
        round_started_at = delivery.round_started_at or started
        if outcome is AttemptOutcome.DELIVERED:
            await self._store.record_delivered(
                claimed, attempt, round_started_at=round_started_at, ping=is_ping
            )
            return True
        log.warning("webhook %s to %s failed: %s", delivery.id, subscription.id, result.error)
        if is_ping:
            # A ping is tried once: it answers "does the receiver work now?", and never counts
            # against the subscription.
            await self._store.record_failed(claimed, attempt, round_started_at=round_started_at, ping=True)
            return True
        if outcome is AttemptOutcome.GONE:
            await self._store.record_failed(claimed, attempt, round_started_at=round_started_at)
            await self._disable(claimed, "the receiver answered 410 Gone")
            return True
        retry_at = webhooks.next_attempt_at(
            first_attempt_at=round_started_at,
            attempts=delivery.attempt_count + 1,
            now=datetime.now(UTC),
            schedule=self._schedule,
            window=self._window,
        )
        if retry_at is None:
            health = await self._store.record_failed(claimed, attempt, round_started_at=round_started_at)
        else:
            health = await self._store.record_retry(
                claimed, attempt, retry_at=retry_at, round_started_at=round_started_at
            )
        await self._disable_if_failing(claimed, health)
        return True

    async def _disable_if_failing(self, claimed: ClaimedDelivery, health: SubscriptionHealth) -> None:
        reason = webhooks.disable_reason(
            consecutive_failed_deliveries=health.consecutive_failed_deliveries,
            failing_since=health.failing_since,
            now=datetime.now(UTC),
            policy=self._policy,
        )
        if reason is not None:
            await self._disable(claimed, reason)

    async def _disable(self, claimed: ClaimedDelivery, reason: str) -> None:
        subscription = await self._store.subscription_or_none(claimed.delivery.subscription_id)
        if subscription is None:
            return
        title, body = webhooks.disabled_notification(subscription, reason)
        if await self._store.disable_for_failures(
            subscription.id, reason=reason, notice_title=title, notice_body=body, now=datetime.now(UTC)
        ):
            log.warning("webhook subscription %s disabled: %s", subscription.id, reason)
