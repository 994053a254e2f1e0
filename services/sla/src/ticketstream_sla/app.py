"""Composition root of the sla service."""

from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi import FastAPI

from ticketstream.asyncapi import declare_publications
from ticketstream.contracts import topics
from ticketstream.service import ServicePlatform, create_service_app
from ticketstream_sla import api, api_admin, handlers, store, store_admin
from ticketstream_sla.scheduler import TimerScheduler
from ticketstream_sla.settings import Settings
from ticketstream_sla.store_leases import LeaseStore


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    platform = ServicePlatform(settings, indexes={**store.INDEXES, **store_admin.INDEXES})
    admin_store = store_admin.AdminStore(platform.mongo, platform.database)
    sla_store = store.SlaStore(
        platform.mongo,
        platform.database,
        admin_store,
        periods=settings.quiet_periods,
        shards=settings.sla_timer_shards,
        on_commit=platform.relay.poke,
    )
    replica = f"sla-{uuid.uuid4().hex[:12]}"
    scheduler = TimerScheduler(
        sla_store,
        LeaseStore(
            platform.database,
            replica=replica,
            shards=settings.sla_timer_shards,
            lease=timedelta(seconds=settings.sla_timer_lease_seconds),
        ),
        poll=timedelta(milliseconds=settings.sla_timer_poll_ms),
        look_ahead=timedelta(seconds=settings.sla_timer_look_ahead_seconds),
        batch=settings.sla_timer_batch,
    )
    # Policies exist before the first ticket event is consumed.
    platform.before_consuming.append(admin_store.seed_default_policies)
    platform.background.append(scheduler.run)
    platform.shutdown_steps.append(scheduler.stop)
    platform.broker.include_router(handlers.create_router(settings, sla_store))
    declare_publications(platform.broker, settings, topics.SLA)
    app = create_service_app(
        platform,
        title="Ticketstream sla",
        description="SLA policies, business calendars and clocks; timers that fire warnings, breaches "
        "and waiting-on-customer automations on time and once.",
        routers=[api.router, api_admin.router],
    )
    app.state.sla_store = sla_store
    app.state.admin_store = admin_store
    app.state.timer_scheduler = scheduler
    return app
