"""Composition root of the ingest service."""

from __future__ import annotations

from fastapi import FastAPI

from ticketstream.asyncapi import declare_publications
from ticketstream.contracts import topics
from ticketstream.service import ServicePlatform, create_service_app
from ticketstream_ingest import (
    api,
    api_attachments,
    api_csat,
    api_forms,
    api_quarantine,
    handlers,
    store,
    store_csat,
    store_files,
    store_quarantine,
    store_rates,
    store_requests,
)
from ticketstream_ingest.imap import create_imap_connector
from ticketstream_ingest.intake import EmailIntake
from ticketstream_ingest.settings import Settings
from ticketstream_ingest.smtp import SmtpListener

INDEXES = {
    **store.INDEXES,
    **store_quarantine.INDEXES,
    **store_files.INDEXES,
    **store_requests.INDEXES,
    **store_rates.INDEXES,
    **store_csat.INDEXES,
}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    platform = ServicePlatform(settings, indexes=INDEXES)
    inbound_store = store.InboundStore(platform.mongo, platform.database, on_commit=platform.relay.poke)
    quarantine_store = store_quarantine.QuarantineStore(platform.database)
    request_store = store_requests.RequestStore(
        platform.mongo, platform.database, on_commit=platform.relay.poke
    )
    csat_store = store_csat.CsatStore(platform.mongo, platform.database, on_commit=platform.relay.poke)
    rate_store = store_rates.RateStore(platform.database)
    email_intake = EmailIntake(inbound_store, quarantine_store, rate_store, settings)
    platform.broker.include_router(handlers.create_router(settings, request_store))
    if settings.smtp_port:
        listener = SmtpListener(email_intake, settings)
        platform.after_consuming.append(listener.start)
        platform.shutdown_steps.append(listener.stop)
    imap_connector = create_imap_connector(email_intake, platform, settings)
    if imap_connector is not None:
        platform.after_consuming.append(imap_connector.start)
        platform.shutdown_steps.append(imap_connector.stop)
    declare_publications(platform.broker, settings, topics.INBOUND)
    app = create_service_app(
        platform,
        title="Ticketstream ingest",
        description=(
            "Inbound email (SMTP and raw-MIME webhook), the portal form, chat transcripts and "
            "satisfaction answers become inbound.* events; IMAP mailboxes are pulled; what cannot be "
            "let in waits in quarantine."
        ),
        routers=[
            api.router,
            api_forms.router,
            api_csat.router,
            api_quarantine.router,
            api_attachments.router,
        ],
    )
    app.state.inbound_store = inbound_store
    app.state.email_intake = email_intake
    app.state.quarantine_store = quarantine_store
    app.state.request_store = request_store
    app.state.rate_store = rate_store
    app.state.csat_store = csat_store
    app.state.attachment_store = store_files.AttachmentStore(platform.database)
    app.state.imap_connector = imap_connector
    return app
