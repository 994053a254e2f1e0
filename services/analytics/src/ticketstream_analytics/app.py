"""Composition root of the analytics service."""

from __future__ import annotations

from fastapi import FastAPI

from ticketstream.service import ServicePlatform, create_service_app
from ticketstream_analytics import api, handlers, store
from ticketstream_analytics.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    platform = ServicePlatform(settings, indexes=store.INDEXES)
    analytics_store = store.AnalyticsStore(platform.mongo, platform.database)
    platform.broker.include_router(handlers.create_router(settings, analytics_store))
    app = create_service_app(
        platform,
        title="Ticketstream analytics",
        description="Reports computed from the event log.",
        routers=[api.router],
    )
    app.state.analytics_store = analytics_store
    return app
