"""HTTP edge of webhook subscriptions: admins manage them, read their delivery log, resend."""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status

from ticketstream.auth import AdminPrincipal
from ticketstream.contracts.envelope import source_of
from ticketstream.settings import Environment
from ticketstream_notify import webhook_signing, webhooks
from ticketstream_notify.models_webhooks import (
    DeliveryList,
    DeliveryView,
    WebhookCreate,
    WebhookList,
    WebhookUpdate,
    WebhookView,
    WebhookWithSecret,
)
from ticketstream_notify.settings import Settings
from ticketstream_notify.store_webhooks import (
    DeliveryBusyError,
    DeliveryNotFoundError,
    SubscriptionNotFoundError,
    WebhookStore,
)
from ticketstream_notify.webhook_sender import vet_url
from ticketstream_notify.webhooks import Delivery, Subscription

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


def get_webhook_store(request: Request) -> WebhookStore:
    store: WebhookStore = request.app.state.webhook_store
    return store


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


WebhookStoreDep = Annotated[WebhookStore, Depends(get_webhook_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def _unprocessable(code: str, message: str) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, {"code": code, "message": message})


def _view(subscription: Subscription) -> WebhookView:
    until = max((old.signs_until for old in subscription.retiring_secrets), default=None)
    fields = {name: value for name, value in asdict(subscription).items() if name in WebhookView.model_fields}
    return WebhookView.model_validate(
        {**fields, "event_types": list(subscription.event_types), "previous_secret_signs_until": until}
    )


def _with_secret(subscription: Subscription) -> WebhookWithSecret:
    return WebhookWithSecret(**_view(subscription).model_dump(), secret=subscription.secret)


def _delivery_view(delivery: Delivery) -> DeliveryView:
    return DeliveryView.model_validate(
        {
            **{name: value for name, value in asdict(delivery).items() if name in DeliveryView.model_fields},
            "status": delivery.status.value,
            "attempts": [
                {**asdict(attempt), "outcome": attempt.outcome.value} for attempt in delivery.attempts
            ],
        }
    )


async def _checked_url(url: str, settings: Settings) -> str:
    refusal = await vet_url(
        url,
        allow_private=settings.webhook_allow_private,
        require_https=settings.env is Environment.PRODUCTION,
    )
    if refusal is not None:
        raise _unprocessable("unsafe_target", f"webhook URL refused: {refusal}")
    return url.strip()


def _checked_event_types(patterns: list[str]) -> list[str]:
    try:
        return webhooks.validate_event_filter(patterns)
    except webhooks.InvalidWebhookError as error:
        raise _unprocessable("invalid_event_types", str(error)) from error


def _checked_secret(secret: str | None) -> str:
    if secret is None:
        return webhook_signing.generate_secret()
    try:
        webhook_signing.secret_key(secret)
    except webhook_signing.InvalidSecretError as error:
        raise _unprocessable("invalid_secret", str(error)) from error
    return secret


async def _subscription(store: WebhookStore, subscription_id: str) -> Subscription:
    try:
        return await store.subscription(subscription_id)
    except SubscriptionNotFoundError as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from error


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Subscribe a URL to ticket and SLA events (the secret is shown once, in this answer)",
)
async def create_webhook(
    body: WebhookCreate, store: WebhookStoreDep, settings: SettingsDep, principal: AdminPrincipal
) -> WebhookWithSecret:
    event_types = _checked_event_types(body.event_types)
    secret = _checked_secret(body.secret)
    url = await _checked_url(body.url, settings)
    subscription = await store.create_subscription(
        url=url,
        event_types=event_types,
        include_internal=body.include_internal,
        description=body.description,
        enabled=body.enabled,
        secret=secret,
        actor=principal.sub,
        now=datetime.now(UTC),
    )
    return _with_secret(subscription)


@router.get("", summary="Webhook subscriptions, oldest first, without their secrets")
async def list_webhooks(store: WebhookStoreDep, _: AdminPrincipal) -> WebhookList:
    return WebhookList(items=[_view(subscription) for subscription in await store.subscriptions()])


@router.get("/{webhook_id}", summary="One webhook subscription, without its secret")
async def get_webhook(webhook_id: str, store: WebhookStoreDep, _: AdminPrincipal) -> WebhookView:
    return _view(await _subscription(store, webhook_id))


@router.patch(
    "/{webhook_id}",
    summary="Change a subscription: URL, event types, enable/disable, or rotate its secret",
    response_model=WebhookView | WebhookWithSecret,
)
async def update_webhook(
    webhook_id: str, body: WebhookUpdate, store: WebhookStoreDep, settings: SettingsDep, _: AdminPrincipal
) -> WebhookView | WebhookWithSecret:
    if body.secret is not None and not body.rotate_secret:
        raise _unprocessable("invalid_secret", "a new secret is set with rotate_secret=true")
    await _subscription(store, webhook_id)
    changes: dict[str, Any] = {}
    if body.url is not None:
        changes["url"] = await _checked_url(body.url, settings)
    if body.event_types is not None:
        changes["event_types"] = _checked_event_types(body.event_types)
    for name in ("include_internal", "description", "enabled"):
        value = getattr(body, name)
        if value is not None:
            changes[name] = value
    now = datetime.now(UTC)
    try:
        subscription = await store.update_subscription(webhook_id, changes=changes, now=now)
        if not body.rotate_secret:
            return _view(subscription)
        subscription = await store.rotate_secret(
            webhook_id,
            secret=_checked_secret(body.secret),
            old_signs_until=now + timedelta(seconds=settings.webhook_secret_grace_seconds),
            now=now,
        )
    except SubscriptionNotFoundError as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from error
    return _with_secret(subscription)


@router.delete(
    "/{webhook_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a subscription and its delivery log",
)
async def delete_webhook(webhook_id: str, store: WebhookStoreDep, _: AdminPrincipal) -> Response:
    try:
        await store.delete_subscription(webhook_id)
    except SubscriptionNotFoundError as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from error
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _encode_cursor(position: tuple[datetime, str]) -> str:
    created_at, delivery_id = position
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{delivery_id}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        created_at, delivery_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return datetime.fromisoformat(created_at), delivery_id
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise _unprocessable("invalid_cursor", "cursor is not one this API returned") from error


@router.get(
    "/{webhook_id}/deliveries", summary="The subscription's deliveries, newest first, with each attempt"
)
async def list_deliveries(
    webhook_id: str,
    store: WebhookStoreDep,
    _: AdminPrincipal,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> DeliveryList:
    await _subscription(store, webhook_id)
    before = _decode_cursor(cursor) if cursor else None
    page, following = await store.deliveries_page(webhook_id, limit=limit, before=before)
    return DeliveryList(
        items=[_delivery_view(delivery) for delivery in page],
        next_cursor=_encode_cursor(following) if following else None,
    )


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/resend",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Send a delivery again (same webhook-id and body, a fresh retry window)",
)
async def resend_delivery(
    webhook_id: str, delivery_id: str, request: Request, store: WebhookStoreDep, _: AdminPrincipal
) -> DeliveryView:
    subscription = await _subscription(store, webhook_id)
    if not subscription.enabled:
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"webhook {webhook_id} is disabled: enable it before resending"
        )
    try:
        withheld = webhooks.withheld_reason(subscription, await store.delivery(webhook_id, delivery_id))
        if withheld is not None:
            raise HTTPException(
                status.HTTP_409_CONFLICT, f"delivery {delivery_id} cannot be resent: {withheld}"
            )
        delivery = await store.resend(webhook_id, delivery_id, now=datetime.now(UTC))
    except DeliveryNotFoundError as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from error
    except DeliveryBusyError as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from error
    request.app.state.webhook_dispatcher.poke()
    return _delivery_view(delivery)


@router.post(
    "/{webhook_id}/test",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Send a signed webhook.ping now (once, even to a disabled subscription; no retries)",
)
async def ping_webhook(
    webhook_id: str, request: Request, store: WebhookStoreDep, _: AdminPrincipal
) -> DeliveryView:
    subscription = await _subscription(store, webhook_id)
    now = datetime.now(UTC)
    message_id = webhooks.delivery_id(f"ping:{uuid.uuid4()}", subscription.id)
    body = webhooks.ping_body(
        message_id=message_id, subscription_id=subscription.id, source=source_of("notify"), now=now
    )
    delivery = await store.record_ping(subscription.id, body=body, message_id=message_id, now=now)
    request.app.state.webhook_dispatcher.poke()
    return _delivery_view(delivery)
