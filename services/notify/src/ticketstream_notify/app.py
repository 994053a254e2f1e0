"""Composition root of the notify service."""

from __future__ import annotations

from fastapi import FastAPI

from ticketstream.asyncapi import declare_publications
from ticketstream.contracts import topics
from ticketstream.service import ServicePlatform, create_service_app
from ticketstream_notify import api, api_admin, handlers, store, store_directory
from ticketstream_notify.dispatcher import MailDispatcher
from ticketstream_notify.notifier import Notifier
from ticketstream_notify.senders import SmtpSender
from ticketstream_notify.settings import Settings
from ticketstream_notify.store_matrix import MatrixStore
from ticketstream_notify.templates import TemplateRenderer


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    platform = ServicePlatform(settings, indexes={**store.INDEXES, **store_directory.DIRECTORY_INDEXES})
    notify_store = store.NotifyStore(platform.mongo, platform.database, on_commit=platform.relay.poke)
    sender = SmtpSender(settings.smtp_url, sender=settings.support_address) if settings.smtp_url else None
    dispatcher = MailDispatcher(notify_store, sender)
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
    declare_publications(platform.broker, settings, topics.NOTIFY)
    app = create_service_app(
        platform,
        title="Ticketstream notify",
        description="Who hears about what: in-app notifications and customer email.",
        routers=[api.router, api_admin.router],
    )
    app.state.notify_store = notify_store
    app.state.matrix_store = matrix_store
    app.state.template_renderer = renderer
    return app
