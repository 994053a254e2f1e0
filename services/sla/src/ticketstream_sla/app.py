"""Composition root of the sla service."""

from __future__ import annotations

from fastapi import FastAPI

from ticketstream.asyncapi import declare_publications
from ticketstream.contracts import topics
from ticketstream.service import ServicePlatform, create_service_app
from ticketstream_sla import api, handlers, store
from ticketstream_sla.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    platform = ServicePlatform(settings, indexes=store.INDEXES)
    sla_store = store.SlaStore(platform.mongo, platform.database, on_commit=platform.relay.poke)
    # Policies exist before the first ticket event is consumed.
    platform.before_consuming.append(sla_store.seed_default_policies)
    platform.broker.include_router(handlers.create_router(settings, sla_store))
    declare_publications(platform.broker, settings, topics.SLA)
    app = create_service_app(
        platform,
        title="Ticketstream sla",
        description="SLA policies and clocks; timers that fire warnings and breaches.",
        routers=[api.router],
    )
    app.state.sla_store = sla_store
    return app
