"""Composition root of the tickets service."""

from __future__ import annotations

from fastapi import FastAPI

from ticketstream.asyncapi import declare_publications
from ticketstream.contracts import topics
from ticketstream.service import ServicePlatform, create_service_app
from ticketstream_tickets import (
    api,
    api_admin,
    api_keys,
    api_vocabulary,
    handlers,
    portal,
    store,
    store_api_keys,
    store_canned,
    store_customers,
    store_directory,
    store_listing,
    store_routing,
    store_threading,
    store_vocabulary,
)
from ticketstream_tickets.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    platform = ServicePlatform(
        settings,
        indexes={
            **store.INDEXES,
            **store_routing.INDEXES,
            **store_directory.INDEXES,
            **store_customers.INDEXES,
            **store_threading.INDEXES,
        },
    )
    routing_store = store_routing.RoutingStore(platform.database)
    platform.before_consuming.append(routing_store.seed_default_rules)
    customer_store = store_customers.CustomerStore(
        platform.mongo, platform.database, on_commit=platform.relay.poke
    )
    vocabulary_store = store_vocabulary.VocabularyStore(platform.database)
    ticket_store = store.TicketStore(
        platform.mongo,
        platform.database,
        on_commit=platform.relay.poke,
        default_team=settings.default_team,
        support_address=settings.support_address,
        routing=routing_store,
        customers=customer_store,
        vocabulary=vocabulary_store,
        threads=store_threading.ThreadIndex(platform.database),
    )
    list_store = store_listing.TicketListStore(platform.database)
    platform.background.append(list_store.backfill_search_terms)
    platform.broker.include_router(handlers.create_router(settings, ticket_store))
    declare_publications(platform.broker, settings, topics.TICKETS, topics.DIRECTORY)
    app = create_service_app(
        platform,
        title="Ticketstream tickets",
        description="Ticket lifecycle, the agent API and the customer portal API.",
        routers=[
            api.router,
            portal.router,
            portal.magic_router,
            api_admin.router,
            api_vocabulary.router,
            api_keys.router,
        ],
    )
    app.state.ticket_store = ticket_store
    app.state.list_store = list_store
    app.state.routing_store = routing_store
    app.state.customer_store = customer_store
    app.state.vocabulary_store = vocabulary_store
    # The platform's auth resolves keys through `api_key_resolver`; the key routes manage them.
    app.state.api_key_resolver = app.state.api_key_store = store_api_keys.ApiKeyStore(platform.database)
    app.state.canned_store = store_canned.CannedStore(platform.database)
    app.state.directory_store = store_directory.DirectoryStore(
        platform.mongo, platform.database, on_commit=platform.relay.poke
    )
    return app
