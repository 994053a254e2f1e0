"""The webhook part of the notify database: subscriptions, and deliveries with their attempts.

Deliveries are claimed with a lease (and a token) so that several replicas never send the same
attempt twice; every final outcome commits with its notify.webhook_* event in the outbox.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument

from ticketstream.contracts import Envelope, encode_event
from ticketstream.contracts.events import NotifyEvent, NotifyWebhookDelivered, NotifyWebhookFailed
from ticketstream.db import Database, Document, IndexPlan, MongoClient, Session, run_in_transaction
from ticketstream.inbox import apply_once
from ticketstream.outbox import enqueue
from ticketstream_notify import webhooks
from ticketstream_notify.webhooks import (
    MAX_LOGGED_ATTEMPTS,
    Attempt,
    AttemptOutcome,
    Delivery,
    DeliveryStatus,
    RetiringSecret,
    Subscription,
    SubscriptionHealth,
    SubscriptionTarget,
)

SUBSCRIPTIONS = "webhook_subscriptions"
DELIVERIES = "webhook_deliveries"
NOTIFICATIONS = "notifications"  # the in-app inbox of store.py, for the admins' notice
CONSUMER = "notify-webhooks"

WEBHOOK_INDEXES: IndexPlan = {
    SUBSCRIPTIONS: [IndexModel([("enabled", ASCENDING)])],
    DELIVERIES: [
        IndexModel([("status", ASCENDING), ("next_attempt_at", ASCENDING)]),
        IndexModel([("subscription_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)]),
    ],
}


class SubscriptionNotFoundError(LookupError):
    def __init__(self, subscription_id: str) -> None:
        super().__init__(f"no webhook subscription {subscription_id}")


class DeliveryNotFoundError(LookupError):
    def __init__(self, delivery_id: str) -> None:
        super().__init__(f"no delivery {delivery_id} for this subscription")


class DeliveryBusyError(RuntimeError):
    def __init__(self, delivery_id: str) -> None:
        super().__init__(f"delivery {delivery_id} is being attempted right now; try again shortly")


@dataclass(frozen=True)
class ClaimedDelivery:
    delivery: Delivery
    lease_token: str


def _subscription_of(document: Document) -> Subscription:
    return Subscription(
        id=document["_id"],
        url=document["url"],
        event_types=tuple(document["event_types"]),
        include_internal=bool(document.get("include_internal", False)),
        description=document.get("description", ""),
        enabled=bool(document["enabled"]),
        secret=document["secret"],
        retiring_secrets=tuple(
            RetiringSecret(secret=old["secret"], signs_until=old["signs_until"])
            for old in document.get("retiring_secrets", [])
        ),
        disabled_reason=document.get("disabled_reason"),
        disabled_at=document.get("disabled_at"),
        consecutive_failed_deliveries=int(document.get("consecutive_failed_deliveries", 0)),
        failing_since=document.get("failing_since"),
        last_success_at=document.get("last_success_at"),
        created_by=document.get("created_by", ""),
        created_at=document["created_at"],
        updated_at=document["updated_at"],
    )


def _attempt_of(document: Document) -> Attempt:
    return Attempt(
        at=document["at"],
        status_code=document.get("status_code"),
        error=document.get("error"),
        duration_ms=int(document["duration_ms"]),
        outcome=AttemptOutcome(document["outcome"]),
    )


def _delivery_of(document: Document) -> Delivery:
    return Delivery(
        id=document["_id"],
        subscription_id=document["subscription_id"],
        event_id=document["event_id"],
        event_type=document["event_type"],
        ticket_id=document.get("ticket_id"),
        ref=document.get("ref"),
        body=document["body"],
        status=DeliveryStatus(document["status"]),
        attempt_count=int(document.get("attempt_count", 0)),
        attempts=tuple(_attempt_of(attempt) for attempt in document.get("attempts", [])),
        round_started_at=document.get("round_started_at"),
        next_attempt_at=document.get("next_attempt_at"),
        last_error=document.get("last_error"),
        created_at=document["created_at"],
        updated_at=document["updated_at"],
    )


def _attempt_document(attempt: Attempt) -> Document:
    return {
        "at": attempt.at,
        "status_code": attempt.status_code,
        "error": attempt.error,
        "duration_ms": attempt.duration_ms,
        "outcome": attempt.outcome.value,
    }


class WebhookStore:
    def __init__(self, client: MongoClient, database: Database, *, on_commit: Callable[[], None]):
        self._client = client
        self._database = database
        self._on_commit = on_commit

    # --- subscriptions ------------------------------------------------------------------------

    async def create_subscription(
        self,
        *,
        url: str,
        event_types: list[str],
        include_internal: bool,
        description: str,
        enabled: bool,
        secret: str,
        actor: str,
        now: datetime,
    ) -> Subscription:
        document = {
            "_id": f"wh_{uuid.uuid4().hex[:20]}",
            "url": url,
            "event_types": event_types,
            "include_internal": include_internal,
            "description": description,
            "enabled": enabled,
            "secret": secret,
            "retiring_secrets": [],
            "disabled_reason": None,
            "disabled_at": None,
            "consecutive_failed_deliveries": 0,
            "failing_since": None,
            "last_success_at": None,
            "created_by": actor,
            "created_at": now,
            "updated_at": now,
        }
        await self._database[SUBSCRIPTIONS].insert_one(document)
        return _subscription_of(document)

    async def subscriptions(self) -> list[Subscription]:
        documents = await self._database[SUBSCRIPTIONS].find().sort("created_at", ASCENDING).to_list()
        return [_subscription_of(document) for document in documents]

    async def subscription(self, subscription_id: str) -> Subscription:
        document = await self._database[SUBSCRIPTIONS].find_one({"_id": subscription_id})
        if document is None:
            raise SubscriptionNotFoundError(subscription_id)
        return _subscription_of(document)

    async def update_subscription(
        self, subscription_id: str, *, changes: dict[str, Any], now: datetime
    ) -> Subscription:
        """Apply field changes; enabling again clears the failure record and the disable reason."""
        updates = {**changes, "updated_at": now}
        if changes.get("enabled") is True:
            updates.update(
                disabled_reason=None, disabled_at=None, consecutive_failed_deliveries=0, failing_since=None
            )
        elif changes.get("enabled") is False:
            updates.update(disabled_reason="disabled by an admin", disabled_at=now)
        document = await self._database[SUBSCRIPTIONS].find_one_and_update(
            {"_id": subscription_id}, {"$set": updates}, return_document=ReturnDocument.AFTER
        )
        if document is None:
            raise SubscriptionNotFoundError(subscription_id)
        return _subscription_of(document)

    async def rotate_secret(
        self, subscription_id: str, *, secret: str, old_signs_until: datetime, now: datetime
    ) -> Subscription:
        """Make `secret` current; the previous one keeps signing until `old_signs_until`."""
        current = await self.subscription(subscription_id)
        kept = [
            {"secret": old.secret, "signs_until": old.signs_until}
            for old in current.retiring_secrets
            if old.signs_until > now
        ]
        if old_signs_until > now:
            kept.append({"secret": current.secret, "signs_until": old_signs_until})
        document = await self._database[SUBSCRIPTIONS].find_one_and_update(
            {"_id": subscription_id},
            {"$set": {"secret": secret, "retiring_secrets": kept, "updated_at": now}},
            return_document=ReturnDocument.AFTER,
        )
        if document is None:
            raise SubscriptionNotFoundError(subscription_id)
        return _subscription_of(document)

    async def delete_subscription(self, subscription_id: str) -> None:
        async def work(session: Session) -> bool:
            result = await self._database[SUBSCRIPTIONS].delete_one({"_id": subscription_id}, session=session)
            await self._database[DELIVERIES].delete_many(
                {"subscription_id": subscription_id}, session=session
            )
            return result.deleted_count == 1

        if not await run_in_transaction(self._client, work):
            raise SubscriptionNotFoundError(subscription_id)

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
                        "$setOnInsert": self._new_delivery(
                            subscription_id=subscription_id,
                            event_id=envelope.id,
                            event_type=envelope.type,
                            ticket_id=ticket_id,
                            ref=ref,
                            body=body,
                            now=now,
                        )
                    },
                    upsert=True,
                    session=session,
                )
            return True

        return bool(await apply_once(self._client, self._database, envelope, consumer=CONSUMER, work=work))

    async def record_ping(
        self, subscription_id: str, *, body: str, message_id: str, now: datetime
    ) -> Delivery:
        document = {
            "_id": message_id,
            **self._new_delivery(
                subscription_id=subscription_id,
                event_id=message_id,
                event_type=webhooks.PING_EVENT_TYPE,
                ticket_id=None,
                ref=None,
                body=body,
                now=now,
            ),
        }
        await self._database[DELIVERIES].insert_one(document)
        return _delivery_of(document)

    @staticmethod
    def _new_delivery(
        *,
        subscription_id: str,
        event_id: str,
        event_type: str,
        ticket_id: str | None,
        ref: str | None,
        body: str,
        now: datetime,
    ) -> Document:
        return {
            "subscription_id": subscription_id,
            "event_id": event_id,
            "event_type": event_type,
            "ticket_id": ticket_id,
            "ref": ref,
            "body": body,
            "status": DeliveryStatus.PENDING.value,
            "attempt_count": 0,
            "attempts": [],
            "round_started_at": None,
            "next_attempt_at": now,
            "last_error": None,
            "created_at": now,
            "updated_at": now,
        }

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
        return ClaimedDelivery(delivery=_delivery_of(document), lease_token=token)

    async def subscription_or_none(self, subscription_id: str) -> Subscription | None:
        document = await self._database[SUBSCRIPTIONS].find_one({"_id": subscription_id})
        return _subscription_of(document) if document is not None else None

    async def skip(self, claimed: ClaimedDelivery, *, reason: str, now: datetime) -> None:
        await self._database[DELIVERIES].update_one(
            {"_id": claimed.delivery.id, "lease_token": claimed.lease_token},
            {"$set": {"status": DeliveryStatus.SKIPPED.value, "last_error": reason, "updated_at": now}},
        )

    @staticmethod
    def _attempt_changes(attempt: Attempt) -> dict[str, Any]:
        return {
            "$push": {"attempts": {"$each": [_attempt_document(attempt)], "$slice": -MAX_LOGGED_ATTEMPTS}},
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

    async def deliveries_page(
        self, subscription_id: str, *, limit: int, before: tuple[datetime, str] | None
    ) -> tuple[list[Delivery], tuple[datetime, str] | None]:
        """Newest first; `before` is the (created_at, id) of the last item of the previous page."""
        query: dict[str, Any] = {"subscription_id": subscription_id}
        if before is not None:
            created_at, last_id = before
            query["$or"] = [
                {"created_at": {"$lt": created_at}},
                {"created_at": created_at, "_id": {"$lt": last_id}},
            ]
        documents = (
            await self._database[DELIVERIES]
            .find(query)
            .sort([("created_at", DESCENDING), ("_id", DESCENDING)])
            .limit(limit + 1)
            .to_list()
        )
        page = [_delivery_of(document) for document in documents[:limit]]
        following = (page[-1].created_at, page[-1].id) if len(documents) > limit else None
        return page, following

    async def delivery(self, subscription_id: str, delivery_id: str) -> Delivery:
        document = await self._database[DELIVERIES].find_one(
            {"_id": delivery_id, "subscription_id": subscription_id}
        )
        if document is None:
            raise DeliveryNotFoundError(delivery_id)
        return _delivery_of(document)

    async def resend(self, subscription_id: str, delivery_id: str, *, now: datetime) -> Delivery:
        """Queue the delivery again, same webhook-id and body, with a fresh retry window."""
        document = await self._database[DELIVERIES].find_one_and_update(
            {
                "_id": delivery_id,
                "subscription_id": subscription_id,
                "status": {"$ne": DeliveryStatus.SENDING.value},
            },
            {
                "$set": {
                    "status": DeliveryStatus.PENDING.value,
                    "next_attempt_at": now,
                    "round_started_at": None,
                    "updated_at": now,
                }
            },
            return_document=ReturnDocument.AFTER,
        )
        if document is None:
            await self.delivery(subscription_id, delivery_id)  # raises when it does not exist
            raise DeliveryBusyError(delivery_id)
        return _delivery_of(document)
