"""Composition root of the notify service."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI

from ticketstream.asyncapi import declare_publications
from ticketstream.contracts import topics
from ticketstream.service import ServicePlatform, create_service_app
from ticketstream_notify import (
    api,
    api_stream,
    api_suppression,
    handlers,
    handlers_suppression,
    store,
    store_digests,
    store_stream,
    store_suppression,
)
from ticketstream_notify.digests import MailBudget
from ticketstream_notify.dispatcher import MailDispatcher, StormProtection
from ticketstream_notify.senders import SmtpSender
from ticketstream_notify.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    indexes = {**store.INDEXES, **store_digests.INDEXES, **store_suppression.INDEXES}
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
    platform.broker.include_router(
        handlers.create_router(settings, notify_store, on_mail_queued=dispatcher.poke)
    )
    platform.broker.include_router(handlers_suppression.create_router(settings, suppression_store))
    declare_publications(platform.broker, settings, topics.NOTIFY)
    app = create_service_app(
        platform,
        title="Ticketstream notify",
        description="Who hears about what: in-app notifications and customer email.",
        routers=[api.router, api_stream.router, api_suppression.router],
    )
    app.state.notify_store = notify_store
    app.state.mail_dispatcher = dispatcher
    app.state.suppression_store = suppression_store
    app.state.stream_store = store_stream.StreamStore(platform.database)
    return app
