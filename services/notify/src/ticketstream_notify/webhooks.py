"""Pure webhook rules: which events a subscription receives, what is sent, when to retry, and
when a failing subscription is switched off. No IO here."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from ticketstream.contracts import Envelope, topics
from ticketstream.contracts.envelope import CONTENT_TYPE, SPEC_VERSION
from ticketstream.contracts.events import EVENT_TYPES, TicketInteractionAdded
from ticketstream_notify import domain

# Topics whose events webhooks carry: the ticket lifecycle and the SLA clocks.
WEBHOOK_TOPICS = frozenset({topics.TICKETS, topics.SLA})
WEBHOOK_EVENT_TYPES: frozenset[str] = frozenset(
    name for name, event_class in EVENT_TYPES.items() if event_class.topic in WEBHOOK_TOPICS
)
WILDCARD = "*"
PING_EVENT_TYPE = "webhook.ping"
MAX_FILTERS = 50
# The last few attempts kept on a delivery document; older ones are summarised by the count.
MAX_LOGGED_ATTEMPTS = 50


class InvalidWebhookError(ValueError):
    """A subscription request that cannot be accepted; the message says why."""


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its next attempt
    SENDING = "sending"  # an attempt is in flight (leased by one replica)
    DELIVERED = "delivered"
    FAILED = "failed"  # every attempt in the retry window failed
    SKIPPED = "skipped"  # the subscription was disabled or deleted before it could be sent


class AttemptOutcome(StrEnum):
    DELIVERED = "delivered"  # 2xx
    GONE = "gone"  # 410: the receiver asks us to stop
    RETRY = "retry"  # anything else, network errors included


def known_filter_patterns() -> list[str]:
    """Every pattern a subscription may use: exact types, `<family>.*` and `*`."""
    families = sorted({name.split(".", 1)[0] for name in WEBHOOK_EVENT_TYPES})
    return [WILDCARD, *(f"{family}.*" for family in families), *sorted(WEBHOOK_EVENT_TYPES)]


def validate_event_filter(patterns: Iterable[str]) -> list[str]:
    """The patterns, de-duplicated in their order; InvalidWebhookError names any unknown one."""
    accepted: list[str] = []
    allowed = set(known_filter_patterns())
    for pattern in patterns:
        cleaned = pattern.strip()
        if cleaned not in allowed:
            raise InvalidWebhookError(
                f"unknown event type {pattern!r}: use '*', 'ticket.*', 'sla.*' or an exact type such as "
                "'ticket.created'"
            )
        if cleaned not in accepted:
            accepted.append(cleaned)
    if not accepted:
        raise InvalidWebhookError("event_types must name at least one event type or pattern")
    if len(accepted) > MAX_FILTERS:
        raise InvalidWebhookError(f"at most {MAX_FILTERS} event type patterns per subscription")
    return accepted


def filter_matches(patterns: Iterable[str], event_type: str) -> bool:
    for pattern in patterns:
        if pattern in (WILDCARD, event_type):
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False


@dataclass(frozen=True)
class SubscriptionTarget:
    """What the event consumer needs of a subscription to decide whether it gets an event."""

    id: str
    event_types: tuple[str, ...]
    include_internal: bool


def wants(subscription: SubscriptionTarget, envelope: Envelope) -> bool:
    """Whether the event goes to this subscription.

    Internal interactions (notes, calls, system entries) are staff-only: they go out only to
    subscriptions created with include_internal, so a customer-facing integration cannot leak them.
    """
    if envelope.type not in WEBHOOK_EVENT_TYPES or not filter_matches(
        subscription.event_types, envelope.type
    ):
        return False
    if is_internal(envelope):
        return subscription.include_internal
    return True


def is_internal(envelope: Envelope) -> bool:
    """Whether the event carries a staff-only interaction (a note, a call, a system entry)."""
    event = envelope.data
    return isinstance(event, TicketInteractionAdded) and not event.interaction.customer_visible


def body_carries_internal(body: str) -> bool:
    """For deliveries queued before they recorded `internal`: read it from the stored body."""
    try:
        document = json.loads(body)
    except ValueError:
        return False
    if not isinstance(document, dict) or document.get("type") != TicketInteractionAdded.event_type:
        return False
    interaction = (document.get("data") or {}).get("interaction") or {}
    return isinstance(interaction, dict) and interaction.get("customer_visible") is False


def withheld_reason(subscription: SubscriptionTarget | Subscription, delivery: Delivery) -> str | None:
    """Why a queued delivery must no longer go to this subscription, or None when it may.

    The subscription is checked again at send and resend time: an admin may have switched off
    include_internal or narrowed the event filter since the delivery was queued.
    """
    if delivery.event_type == PING_EVENT_TYPE:
        return None
    if not filter_matches(subscription.event_types, delivery.event_type):
        return f"the subscription no longer receives {delivery.event_type} events"
    if delivery.internal and not subscription.include_internal:
        return "the delivery carries an internal interaction and the subscription no longer includes them"
    return None


def delivery_id(event_id: str, subscription_id: str) -> str:
    """Stable per (event, subscription): a redelivered event finds its delivery already there.
    It is also the `webhook-id` header, the same on every retry and resend."""
    digest = hashlib.sha256(f"{event_id}\x00{subscription_id}".encode()).hexdigest()[:32]
    return f"msg_{digest}"


def envelope_body(envelope: Envelope) -> str:
    """The request body: the event as a structured-mode CloudEvent (JSON), exactly as on Kafka."""
    document = {
        "specversion": SPEC_VERSION,
        "id": envelope.id,
        "source": envelope.source,
        "type": envelope.type,
        "time": envelope.time.isoformat().replace("+00:00", "Z"),
        "subject": envelope.subject,
        "datacontenttype": CONTENT_TYPE,
        "data": envelope.data.model_dump(mode="json"),
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def ping_body(*, message_id: str, subscription_id: str, source: str, now: datetime) -> str:
    document = {
        "specversion": SPEC_VERSION,
        "id": message_id,
        "source": source,
        "type": PING_EVENT_TYPE,
        "time": now.isoformat().replace("+00:00", "Z"),
        "subject": None,
        "datacontenttype": CONTENT_TYPE,
        "data": {"subscription_id": subscription_id, "message": "Test delivery from Ticketstream"},
    }
    return json.dumps(document, separators=(",", ":"))


def classify_response(status_code: int | None) -> AttemptOutcome:
    if status_code is not None and 200 <= status_code < 300:
        return AttemptOutcome.DELIVERED
    if status_code == 410:
        return AttemptOutcome.GONE
    return AttemptOutcome.RETRY


def retry_delay(attempts: int, schedule: Sequence[float]) -> timedelta:
    """The wait after the `attempts`-th failed attempt (1-based); the last step repeats."""
    step = schedule[min(max(attempts, 1), len(schedule)) - 1]
    return timedelta(seconds=step)


def next_attempt_at(
    *,
    first_attempt_at: datetime,
    attempts: int,
    now: datetime,
    schedule: Sequence[float],
    window: timedelta,
) -> datetime | None:
    """When to try again after `attempts` failures, or None to give up.

    No attempt is planned later than `window` after the first one: a retry that would fall
    beyond it is moved to the window's end, and once that end has passed the delivery fails.
    """
    deadline = first_attempt_at + window
    if now >= deadline:
        return None
    return min(now + retry_delay(attempts, schedule), deadline)


def retry_timeline(schedule: Sequence[float], window: timedelta) -> list[timedelta]:
    """Offsets from the first attempt of every attempt a never-answering target receives."""
    first = datetime(2000, 1, 1)
    offsets, now, attempts = [timedelta(0)], first, 0
    while True:
        attempts += 1
        planned = next_attempt_at(
            first_attempt_at=first, attempts=attempts, now=now, schedule=schedule, window=window
        )
        if planned is None:
            return offsets
        offsets.append(planned - first)
        now = planned


@dataclass(frozen=True)
class DisablePolicy:
    failed_deliveries: int  # consecutive deliveries that exhausted their retries
    failing_for: timedelta  # continuous failure with no success in between


def disable_reason(
    *,
    consecutive_failed_deliveries: int,
    failing_since: datetime | None,
    now: datetime,
    policy: DisablePolicy,
) -> str | None:
    """Why a subscription should be switched off now, or None while it may keep trying."""
    if consecutive_failed_deliveries >= policy.failed_deliveries:
        return (
            f"{consecutive_failed_deliveries} deliveries in a row failed after every retry"
            if consecutive_failed_deliveries > 1
            else "a delivery failed after every retry"
        )
    if failing_since is not None and now - failing_since >= policy.failing_for:
        hours = (now - failing_since).total_seconds() / 3600
        return f"every attempt failed for {hours:.1f} hours"
    return None


# --- records the store returns ----------------------------------------------------------------


@dataclass(frozen=True)
class RetiringSecret:
    secret: str
    signs_until: datetime


@dataclass(frozen=True)
class Subscription:
    id: str
    url: str
    event_types: tuple[str, ...]
    include_internal: bool
    description: str
    enabled: bool
    secret: str
    retiring_secrets: tuple[RetiringSecret, ...]
    disabled_reason: str | None
    disabled_at: datetime | None
    consecutive_failed_deliveries: int
    failing_since: datetime | None
    last_success_at: datetime | None
    created_by: str
    created_at: datetime
    updated_at: datetime

    def signing_secrets(self, now: datetime) -> list[str]:
        """The current secret, then any previous one still inside its rotation grace period."""
        return [self.secret, *(old.secret for old in self.retiring_secrets if old.signs_until > now)]


@dataclass(frozen=True)
class Attempt:
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int
    outcome: AttemptOutcome


@dataclass(frozen=True)
class Delivery:
    id: str  # also the webhook-id header
    subscription_id: str
    event_id: str
    event_type: str
    ticket_id: str | None
    ref: str | None
    body: str
    status: DeliveryStatus
    attempt_count: int
    attempts: tuple[Attempt, ...]
    round_started_at: datetime | None  # first attempt since creation or the last resend
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    internal: bool = False  # carries a staff-only interaction


@dataclass(frozen=True)
class SubscriptionHealth:
    consecutive_failed_deliveries: int
    failing_since: datetime | None


ADMINS = domain.ADMINS


def disabled_notification(subscription: Subscription, reason: str) -> tuple[str, str]:
    """Title and body of the in-app notice admins get when a subscription is switched off."""
    return (
        f"Webhook {subscription.id} was disabled",
        f"Deliveries to {subscription.url} stopped: {reason}. Fix the receiver, then re-enable the "
        f"subscription (PATCH /v1/webhooks/{subscription.id} with enabled=true) and resend what it missed.",
    )
