"""Composition root of the ingest service."""

from __future__ import annotations

from fastapi import FastAPI

from ticketstream.asyncapi import declare_publications
from ticketstream.contracts import topics
from ticketstream.service import ServicePlatform, create_service_app
from ticketstream_ingest import api, api_quarantine, handlers, store, store_quarantine
from ticketstream_ingest.intake import EmailIntake
from ticketstream_ingest.settings import Settings
from ticketstream_ingest.smtp import SmtpListener


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    platform = ServicePlatform(settings, indexes={**store.INDEXES, **store_quarantine.INDEXES})
    inbound_store = store.InboundStore(platform.mongo, platform.database, on_commit=platform.relay.poke)
    quarantine_store = store_quarantine.QuarantineStore(platform.database)
    email_intake = EmailIntake(inbound_store, quarantine_store, settings)
    platform.broker.include_router(handlers.create_router(settings))
    if settings.smtp_port:
        listener = SmtpListener(email_intake, settings)
        platform.after_consuming.append(listener.start)
        platform.shutdown_steps.append(listener.stop)
    declare_publications(platform.broker, settings, topics.INBOUND)
    app = create_service_app(
        platform,
        title="Ticketstream ingest",
        description=(
            "Inbound email (SMTP and raw-MIME webhook) becomes inbound.* events; "
            "what cannot be let in waits in quarantine."
        ),
        routers=[api.router, api_quarantine.router],
    )
    app.state.inbound_store = inbound_store
    app.state.email_intake = email_intake
    app.state.quarantine_store = quarantine_store
    return app
