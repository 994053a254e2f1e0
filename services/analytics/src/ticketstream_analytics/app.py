"""Composition root of the analytics service."""

from __future__ import annotations

from fastapi import FastAPI

from ticketstream.service import ServicePlatform, create_service_app
from ticketstream_analytics import api, api_queue, handlers, queue_live, reader, store, store_queue
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
    queue_projections = store_queue.QueueProjections(platform.mongo, platform.database, analytics_store)
    platform.broker.include_router(handlers.create_router(settings, analytics_store, queue_projections))
    queue_dashboard = queue_live.QueueDashboard(queue_projections)
    queue_broadcaster = queue_live.QueueBroadcaster(
        queue_dashboard,
        poll_seconds=settings.queue_stream_poll_ms / 1000,
        refresh_seconds=settings.queue_stream_refresh_seconds,
        heartbeat_seconds=settings.queue_stream_heartbeat_seconds,
    )
    platform.background.append(queue_broadcaster.run)
    app = create_service_app(
        platform,
        title="Ticketstream analytics",
        description="Reports computed from the event log.",
        routers=[api.router, api_queue.router],
    )
    app.state.analytics_store = analytics_store
    app.state.queue_dashboard = queue_dashboard
    app.state.queue_broadcaster = queue_broadcaster
    app.state.fact_reader = fact_reader
    return app
