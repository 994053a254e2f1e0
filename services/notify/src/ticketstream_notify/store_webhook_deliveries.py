"""Webhook deliveries as the consumer queues them and the dispatcher works them off.

Deliveries are claimed with a lease (and a token) so that several replicas never send the same
attempt twice; every final outcome commits with its notify.webhook_* event in the outbox, and the
subscription's failure record is kept here, next to the attempts that make it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, ReturnDocument

from ticketstream.contracts import Envelope, encode_event
from ticketstream.contracts.events import NotifyEvent, NotifyWebhookDelivered, NotifyWebhookFailed
from ticketstream.db import Database, MongoClient, Session, run_in_transaction
from ticketstream.inbox import apply_once
from ticketstream.outbox import enqueue
from ticketstream_notify import webhooks
from ticketstream_notify.store_webhook_documents import (
    DELIVERIES,
    SUBSCRIPTIONS,
    ClaimedDelivery,
    attempt_document,
    delivery_of,
    new_delivery_document,
    subscription_of,
)
from ticketstream_notify.webhooks import (
    MAX_LOGGED_ATTEMPTS,
    Attempt,
    DeliveryStatus,
    Subscription,
    SubscriptionHealth,
    SubscriptionTarget,
)

NOTIFICATIONS = "notifications"  # the in-app inbox of store.py, for the admins' notice
CONSUMER = "notify-webhooks"


class WebhookDeliveryStore:
    def __init__(self, client: MongoClient, database: Database, *, on_commit: Callable[[], None]):
        self._client = client
        self._database = database
        self._on_commit = on_commit

    async def record_deliveries(
        self, envelope: Envelope, *, subscription_ids: list[str], body: str, now: datetime
    ) -> bool:
        """One pending delivery per subscription, once per event (the inbox ledger and the
        derived delivery id both guard against a redelivered event)."""
        event = envelope.data
        ticket_id = getattr(event, "ticket_id", None)
        ref = getattr(event, "ref", None)

        async def work(session: Session) -> bool:
            for subscription_id in subscription_ids:
                await self._database[DELIVERIES].update_one(
                    {"_id": webhooks.delivery_id(envelope.id, subscription_id)},
                    {
                        "$setOnInsert": new_delivery_document(
                            subscription_id=subscription_id,
                            event_id=envelope.id,
                            event_type=envelope.type,
                            ticket_id=ticket_id,
                            ref=ref,
                            body=body,
                            now=now,
                            internal=webhooks.is_internal(envelope),
                        )
                    },
                    upsert=True,
                    session=session,
                )
            return True

        return bool(await apply_once(self._client, self._database, envelope, consumer=CONSUMER, work=work))

    async def claim_due_delivery(self, *, now: datetime, lease: timedelta) -> ClaimedDelivery | None:
        """Take one due delivery; the lease keeps other replicas off it while it is attempted."""
        token = uuid.uuid4().hex
        claim = {
            "$set": {"status": DeliveryStatus.SENDING.value, "lease_until": now + lease, "lease_token": token}
        }
        deliveries = self._database[DELIVERIES]
        # Two indexed queries rather than one $or: due deliveries, then those whose sender died.
        document = await deliveries.find_one_and_update(
            {"status": DeliveryStatus.PENDING.value, "next_attempt_at": {"$lte": now}},
            claim,
            sort=[("next_attempt_at", ASCENDING)],
            return_document=ReturnDocument.AFTER,
        ) or await deliveries.find_one_and_update(
            {"status": DeliveryStatus.SENDING.value, "lease_until": {"$lt": now}},
            claim,
            return_document=ReturnDocument.AFTER,
        )
        if document is None:
            return None
        return ClaimedDelivery(delivery=delivery_of(document), lease_token=token)

    async def subscription_or_none(self, subscription_id: str) -> Subscription | None:
        document = await self._database[SUBSCRIPTIONS].find_one({"_id": subscription_id})
        return subscription_of(document) if document is not None else None

    async def skip(self, claimed: ClaimedDelivery, *, reason: str, now: datetime) -> None:
        await self._database[DELIVERIES].update_one(
            {"_id": claimed.delivery.id, "lease_token": claimed.lease_token},
            {"$set": {"status": DeliveryStatus.SKIPPED.value, "last_error": reason, "updated_at": now}},
        )

    @staticmethod
    def _attempt_changes(attempt: Attempt) -> dict[str, Any]:
        return {
            "$push": {"attempts": {"$each": [attempt_document(attempt)], "$slice": -MAX_LOGGED_ATTEMPTS}},
            "$inc": {"attempt_count": 1},
        }

    async def record_retry(
        self, claimed: ClaimedDelivery, attempt: Attempt, *, retry_at: datetime, round_started_at: datetime
    ) -> SubscriptionHealth:
        """A failed attempt with another one planned; the subscription is marked as failing."""
        changes = self._attempt_changes(attempt)
        changes["$set"] = {
            "status": DeliveryStatus.PENDING.value,
            "next_attempt_at": retry_at,
            "round_started_at": round_started_at,
            "last_error": attempt.error,
            "updated_at": attempt.at,
        }
        await self._database[DELIVERIES].update_one(
            {"_id": claimed.delivery.id, "lease_token": claimed.lease_token}, changes
        )
        return await self._mark_failing(
            claimed.delivery.subscription_id, now=attempt.at, delivery_exhausted=False
        )

    async def record_delivered(
        self, claimed: ClaimedDelivery, attempt: Attempt, *, round_started_at: datetime, ping: bool = False
    ) -> None:
        """Success: the subscription's failing streak ends (a ping leaves it as it is)."""
        delivery = claimed.delivery
        changes = self._attempt_changes(attempt)
        changes["$set"] = {
            "status": DeliveryStatus.DELIVERED.value,
            "next_attempt_at": None,
            "round_started_at": round_started_at,
            "delivered_at": attempt.at,
            "last_error": None,
            "updated_at": attempt.at,
        }
        event = NotifyWebhookDelivered(
            notification_id=delivery.id,
            ticket_id=delivery.ticket_id,
            ref=delivery.ref,
            channel="webhook",
            recipient=f"webhook:{delivery.subscription_id}",
            occurred_at=attempt.at,
            status_code=attempt.status_code or 200,
        )

        async def work(session: Session) -> None:
            await self._database[DELIVERIES].update_one(
                {"_id": delivery.id, "lease_token": claimed.lease_token}, changes, session=session
            )
            if ping:
                await self._publish(event, session)
                return
            await self._database[SUBSCRIPTIONS].update_one(
                {"_id": delivery.subscription_id},
                {
                    "$set": {
                        "consecutive_failed_deliveries": 0,
                        "failing_since": None,
                        "last_success_at": attempt.at,
                    }
                },
                session=session,
            )
            await self._publish(event, session)

        await run_in_transaction(self._client, work)
        self._on_commit()

    async def record_failed(
        self, claimed: ClaimedDelivery, attempt: Attempt, *, round_started_at: datetime, ping: bool = False
    ) -> SubscriptionHealth:
        """The delivery gives up (its retry window ended, or the receiver answered 410).
        A failed ping never counts against the subscription."""
        delivery = claimed.delivery
        changes = self._attempt_changes(attempt)
        changes["$set"] = {
            "status": DeliveryStatus.FAILED.value,
            "next_attempt_at": None,
            "round_started_at": round_started_at,
            "last_error": attempt.error,
            "updated_at": attempt.at,
        }
        event = NotifyWebhookFailed(
            notification_id=delivery.id,
            ticket_id=delivery.ticket_id,
            ref=delivery.ref,
            channel="webhook",
            recipient=f"webhook:{delivery.subscription_id}",
            occurred_at=attempt.at,
            error=attempt.error or "failed",
            status_code=attempt.status_code,
        )

        async def work(session: Session) -> None:
            await self._database[DELIVERIES].update_one(
                {"_id": delivery.id, "lease_token": claimed.lease_token}, changes, session=session
            )
            await self._publish(event, session)

        await run_in_transaction(self._client, work)
        self._on_commit()
        if ping:
            return SubscriptionHealth(consecutive_failed_deliveries=0, failing_since=None)
        return await self._mark_failing(delivery.subscription_id, now=attempt.at, delivery_exhausted=True)

    async def _mark_failing(
        self, subscription_id: str, *, now: datetime, delivery_exhausted: bool
    ) -> SubscriptionHealth:
        subscriptions = self._database[SUBSCRIPTIONS]
        # Only the first failure since the last success starts the streak; a success resets it.
        await subscriptions.update_one(
            {"_id": subscription_id, "failing_since": None}, {"$set": {"failing_since": now}}
        )
        document = await subscriptions.find_one_and_update(
            {"_id": subscription_id},
            {"$inc": {"consecutive_failed_deliveries": 1 if delivery_exhausted else 0}},
            return_document=ReturnDocument.AFTER,
        )
        if document is None:
            return SubscriptionHealth(consecutive_failed_deliveries=0, failing_since=None)
        return SubscriptionHealth(
            consecutive_failed_deliveries=int(document.get("consecutive_failed_deliveries", 0)),
            failing_since=document.get("failing_since"),
        )

    async def disable_for_failures(
        self, subscription_id: str, *, reason: str, notice_title: str, notice_body: str, now: datetime
    ) -> bool:
        """Switch the subscription off, skip what it still had queued and tell the admins in-app.
        False when it was already off (another replica got there first)."""

        async def work(session: Session) -> bool:
            result = await self._database[SUBSCRIPTIONS].update_one(
                {"_id": subscription_id, "enabled": True},
                {
                    "$set": {
                        "enabled": False,
                        "disabled_reason": reason,
                        "disabled_at": now,
                        "updated_at": now,
                    }
                },
                session=session,
            )
            if result.modified_count != 1:
                return False
            await self._database[DELIVERIES].update_many(
                {"subscription_id": subscription_id, "status": DeliveryStatus.PENDING.value},
                {
                    "$set": {
                        "status": DeliveryStatus.SKIPPED.value,
                        "last_error": "subscription disabled",
                        "updated_at": now,
                    }
                },
                session=session,
            )
            await self._database[NOTIFICATIONS].insert_one(
                {
                    "_id": f"webhook-disabled:{subscription_id}:{now.isoformat()}",
                    "recipient": webhooks.ADMINS,
                    "kind": "webhook.disabled",
                    "title": notice_title,
                    "body": notice_body,
                    "ref": None,
                    "ticket_id": None,
                    "read_by": [],
                    "created_at": now,
                },
                session=session,
            )
            return True

        return bool(await run_in_transaction(self._client, work))

    async def _publish(self, event: NotifyEvent, session: Session) -> None:
        key = event.ticket_id or event.recipient
        await enqueue(
            self._database, session, encode_event(event, service="notify", key=key, subject=event.ref)
        )

    async def enabled_targets(self) -> list[SubscriptionTarget]:
        documents = (
            await self._database[SUBSCRIPTIONS]
            .find({"enabled": True}, {"event_types": 1, "include_internal": 1})
            .to_list()
        )
        return [
            SubscriptionTarget(
                id=d["_id"],
                event_types=tuple(d["event_types"]),
                include_internal=bool(d.get("include_internal")),
            )
            for d in documents
        ]

    # --- deliveries -----------------------------------------------------------------------------
