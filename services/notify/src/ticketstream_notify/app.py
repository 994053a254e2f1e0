"""Composition root of the notify service."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI

from ticketstream.asyncapi import declare_publications
from ticketstream.contracts import topics
from ticketstream.service import ServicePlatform, create_service_app
from ticketstream.settings import Environment
from ticketstream_notify import (
    api,
    api_admin,
    api_stream,
    api_suppression,
    api_webhooks,
    handlers,
    handlers_suppression,
    handlers_webhooks,
    store,
    store_digests,
    store_directory,
    store_stream,
    store_suppression,
    store_webhook_deliveries,
    store_webhooks,
)
from ticketstream_notify.digests import MailBudget
from ticketstream_notify.dispatcher import MailDispatcher, StormProtection
from ticketstream_notify.notifier import Notifier
from ticketstream_notify.senders import SmtpSender
from ticketstream_notify.settings import Settings
from ticketstream_notify.store_matrix import MatrixStore
from ticketstream_notify.templates import TemplateRenderer
from ticketstream_notify.webhook_dispatcher import WebhookDispatcher
from ticketstream_notify.webhook_sender import WebhookSender


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    indexes = {
        **store.INDEXES,
        **store_digests.INDEXES,
        **store_suppression.INDEXES,
        **store_webhooks.WEBHOOK_INDEXES,
        **store_directory.DIRECTORY_INDEXES,
    }
    platform = ServicePlatform(settings, indexes=indexes)
    notify_store = store.NotifyStore(platform.mongo, platform.database, on_commit=platform.relay.poke)
    suppression_store = store_suppression.SuppressionStore(platform.mongo, platform.database)
    sender = SmtpSender(settings.smtp_url, sender=settings.support_address) if settings.smtp_url else None
    protection = StormProtection(
        suppressions=suppression_store,
        digests=store_digests.DigestStore(platform.mongo, platform.database),
        budget=MailBudget(
            limit=settings.mail_limit_per_recipient,
            window=timedelta(seconds=settings.mail_limit_window_seconds),
        ),
        support_address=settings.support_address,
    )
    dispatcher = MailDispatcher(notify_store, sender, protection=protection)
    platform.background.append(dispatcher.run)
    matrix_store = MatrixStore(platform.database)
    directory_store = store_directory.DirectoryStore(platform.database)
    renderer = TemplateRenderer()
    notifier = Notifier(settings, matrix_store, directory_store, renderer)
    platform.broker.include_router(
        handlers.create_router(
            settings,
            notify_store,
            on_mail_queued=dispatcher.poke,
            notifier=notifier,
            directory=directory_store,
        )
    )
    webhook_store = store_webhooks.WebhookStore(platform.mongo, platform.database)
    webhook_sender = WebhookSender(
        timeout_seconds=settings.webhook_timeout_seconds,
        allow_private=settings.webhook_allow_private,
        require_https=settings.env is Environment.PRODUCTION,
    )
    webhook_deliveries = store_webhook_deliveries.WebhookDeliveryStore(
        platform.mongo, platform.database, on_commit=platform.relay.poke
    )
    webhook_dispatcher = WebhookDispatcher(webhook_deliveries, webhook_sender, settings)
    platform.background.append(webhook_dispatcher.run)
    platform.broker.include_router(
        handlers_webhooks.create_webhook_router(
            settings, webhook_deliveries, on_delivery_queued=webhook_dispatcher.poke
        )
    )
    platform.broker.include_router(handlers_suppression.create_router(settings, suppression_store))
    declare_publications(platform.broker, settings, topics.NOTIFY)
    app = create_service_app(
        platform,
        title="Ticketstream notify",
        description="Who hears about what: in-app notifications and customer email.",
        routers=[
            api.router,
            api_stream.router,
            api_admin.router,
            api_suppression.router,
            api_webhooks.router,
        ],
    )
    app.state.notify_store = notify_store
    app.state.mail_dispatcher = dispatcher
    app.state.suppression_store = suppression_store
    app.state.stream_store = store_stream.StreamStore(platform.database)
    app.state.matrix_store = matrix_store
    app.state.template_renderer = renderer
    app.state.webhook_store = webhook_store
    app.state.webhook_dispatcher = webhook_dispatcher
    return app
