"""Webhook subscriptions as admins manage them, and their delivery log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument

from ticketstream.db import Database, MongoClient, Session, run_in_transaction
from ticketstream_notify import webhooks
from ticketstream_notify.store_webhook_documents import (
    DELIVERIES,
    SUBSCRIPTIONS,
    WEBHOOK_INDEXES,
    DeliveryBusyError,
    DeliveryNotFoundError,
    SubscriptionNotFoundError,
    delivery_of,
    new_delivery_document,
    subscription_of,
)
from ticketstream_notify.webhooks import Delivery, DeliveryStatus, Subscription

__all__ = [
    "WEBHOOK_INDEXES",
    "DeliveryBusyError",
    "DeliveryNotFoundError",
    "SubscriptionNotFoundError",
    "WebhookStore",
]


class WebhookStore:
    def __init__(self, client: MongoClient, database: Database) -> None:
        self._client = client
        self._database = database

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
        return subscription_of(document)

    async def subscriptions(self) -> list[Subscription]:
        documents = await self._database[SUBSCRIPTIONS].find().sort("created_at", ASCENDING).to_list()
        return [subscription_of(document) for document in documents]

    async def subscription(self, subscription_id: str) -> Subscription:
        document = await self._database[SUBSCRIPTIONS].find_one({"_id": subscription_id})
        if document is None:
            raise SubscriptionNotFoundError(subscription_id)
        return subscription_of(document)

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
        return subscription_of(document)

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
        return subscription_of(document)

    async def delete_subscription(self, subscription_id: str) -> None:
        async def work(session: Session) -> bool:
            result = await self._database[SUBSCRIPTIONS].delete_one({"_id": subscription_id}, session=session)
            await self._database[DELIVERIES].delete_many(
                {"subscription_id": subscription_id}, session=session
            )
            return result.deleted_count == 1

        if not await run_in_transaction(self._client, work):
            raise SubscriptionNotFoundError(subscription_id)

    async def record_ping(
        self, subscription_id: str, *, body: str, message_id: str, now: datetime
    ) -> Delivery:
        document = {
            "_id": message_id,
            **new_delivery_document(
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
        return delivery_of(document)

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
        page = [delivery_of(document) for document in documents[:limit]]
        following = (page[-1].created_at, page[-1].id) if len(documents) > limit else None
        return page, following

    async def delivery(self, subscription_id: str, delivery_id: str) -> Delivery:
        document = await self._database[DELIVERIES].find_one(
            {"_id": delivery_id, "subscription_id": subscription_id}
        )
        if document is None:
            raise DeliveryNotFoundError(delivery_id)
        return delivery_of(document)

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
        return delivery_of(document)
