"""Composition root of the analytics service."""

from __future__ import annotations

from fastapi import FastAPI

from ticketstream.service import ServicePlatform, create_service_app
from ticketstream_analytics import api, handlers, reader, store
from ticketstream_analytics.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    platform = ServicePlatform(settings, indexes=store.INDEXES)
    analytics_store = store.AnalyticsStore(platform.mongo, platform.database)
    fact_reader = reader.FactReader(
        analytics_store,
        refresh_seconds=settings.analytics_refresh_ms / 1000,
        overlap_seconds=settings.analytics_refresh_overlap_ms / 1000,
    )
    platform.background.append(fact_reader.run)
    platform.broker.include_router(handlers.create_router(settings, analytics_store))
    app = create_service_app(
        platform,
        title="Ticketstream analytics",
        description="Reports computed from the event log.",
        routers=[api.router],
    )
    app.state.analytics_store = analytics_store
    app.state.fact_reader = fact_reader
    return app
