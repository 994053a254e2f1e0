"""Documents of notify's webhook collections, and how they map to the records of `webhooks`.

Only the webhook store modules use this; raw documents never leave them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pymongo import ASCENDING, DESCENDING, IndexModel

from ticketstream.db import Document, IndexPlan
from ticketstream_notify import webhooks
from ticketstream_notify.webhooks import (
    Attempt,
    AttemptOutcome,
    Delivery,
    DeliveryStatus,
    RetiringSecret,
    Subscription,
)

SUBSCRIPTIONS = "webhook_subscriptions"
DELIVERIES = "webhook_deliveries"

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


def subscription_of(document: Document) -> Subscription:
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


def attempt_of(document: Document) -> Attempt:
    return Attempt(
        at=document["at"],
        status_code=document.get("status_code"),
        error=document.get("error"),
        duration_ms=int(document["duration_ms"]),
        outcome=AttemptOutcome(document["outcome"]),
    )


def delivery_of(document: Document) -> Delivery:
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
        attempts=tuple(attempt_of(attempt) for attempt in document.get("attempts", [])),
        round_started_at=document.get("round_started_at"),
        next_attempt_at=document.get("next_attempt_at"),
        last_error=document.get("last_error"),
        created_at=document["created_at"],
        updated_at=document["updated_at"],
        internal=bool(document["internal"])
        if "internal" in document
        else webhooks.body_carries_internal(document["body"]),
    )


def attempt_document(attempt: Attempt) -> Document:
    return {
        "at": attempt.at,
        "status_code": attempt.status_code,
        "error": attempt.error,
        "duration_ms": attempt.duration_ms,
        "outcome": attempt.outcome.value,
    }


def new_delivery_document(
    *,
    subscription_id: str,
    event_id: str,
    event_type: str,
    ticket_id: str | None,
    ref: str | None,
    body: str,
    now: datetime,
    internal: bool = False,
) -> Document:
    return {
        "subscription_id": subscription_id,
        "event_id": event_id,
        "event_type": event_type,
        "ticket_id": ticket_id,
        "ref": ref,
        "body": body,
        "internal": internal,
        "status": DeliveryStatus.PENDING.value,
        "attempt_count": 0,
        "attempts": [],
        "round_started_at": None,
        "next_attempt_at": now,
        "last_error": None,
        "created_at": now,
        "updated_at": now,
    }
