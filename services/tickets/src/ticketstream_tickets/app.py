"""Composition root of the tickets service."""

from __future__ import annotations

from fastapi import FastAPI

from ticketstream.asyncapi import declare_publications
from ticketstream.contracts import topics
from ticketstream.service import ServicePlatform, create_service_app
from ticketstream_tickets import api, handlers, portal, store
from ticketstream_tickets.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    platform = ServicePlatform(settings, indexes=store.INDEXES)
    ticket_store = store.TicketStore(
        platform.mongo, platform.database, on_commit=platform.relay.poke, default_team=settings.default_team
    )
    platform.broker.include_router(handlers.create_router(settings, ticket_store))
    declare_publications(platform.broker, settings, topics.TICKETS, topics.DIRECTORY)
    app = create_service_app(
        platform,
        title="Ticketstream tickets",
        description="Ticket lifecycle, the agent API and the customer portal API.",
        routers=[api.router, portal.router],
    )
    app.state.ticket_store = ticket_store
    return app
