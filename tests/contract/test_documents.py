"""The generated API documents (ARCHITECTURE §2, §5, §7): OpenAPI per service and AsyncAPI.

Building an app creates its clients (broker, database, producer) without connecting them; the
lifespan is never entered here, so no network is touched.
"""

from __future__ import annotations

import importlib
import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI

from ticketstream.asyncapi import asyncapi_document
from ticketstream.cli import installed_service_brokers
from ticketstream.contracts import topics
from ticketstream.settings import PlatformSettings

SERVICES = ("ingest", "tickets", "sla", "notify", "analytics")
# Nothing listens on port 1: if building or documenting an app ever connected, it would fail.
UNREACHABLE = {
    "kafka_bootstrap": "127.0.0.1:1",
    "mongo_url": "mongodb://127.0.0.1:1/?directConnection=true&serverSelectionTimeoutMS=100",
    "env": "test",
}

SERVICE_ROUTES: dict[str, set[tuple[str, str]]] = {
    "ingest": {("post", "/v1/inbound/email")},
    "tickets": {("get", "/v1/tickets"), ("post", "/v1/tickets"), ("get", "/v1/tickets/{ref}")},
    "sla": {("get", "/v1/clocks/{ref}")},
    "notify": {("get", "/v1/notifications")},
    "analytics": {("get", "/v1/reports/volume")},
}
PLATFORM_ROUTES = {("get", "/healthz"), ("get", "/readyz"), ("get", "/metrics")}


@pytest.fixture(scope="module", autouse=True)
def clean_environment() -> Iterator[None]:
    """Module-scoped, so that the module-scoped documents below are built from the defaults too."""
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith(("TICKETSTREAM_", "OTEL_EXPORTER_")):
                patch.delenv(name)
        yield


def build_app(service: str) -> FastAPI:
    settings_class: type[PlatformSettings] = importlib.import_module(
        f"ticketstream_{service}.settings"
    ).Settings
    app_module = importlib.import_module(f"ticketstream_{service}.app")
    app: FastAPI = app_module.create_app(settings_class(**UNREACHABLE))
    return app


def operations(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method, path) for path, item in document["paths"].items() for method in item}


@pytest.fixture(scope="module")
def documents() -> dict[str, dict[str, Any]]:
    return {service: build_app(service).openapi() for service in SERVICES}


@pytest.mark.parametrize("service", SERVICES)
def test_openapi_document_generates(service: str, documents: dict[str, dict[str, Any]]) -> None:
    document = documents[service]

    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == f"Ticketstream {service}"
    assert document["info"]["version"]


@pytest.mark.parametrize("service", SERVICES)
def test_openapi_lists_the_service_routes(service: str, documents: dict[str, dict[str, Any]]) -> None:
    missing = SERVICE_ROUTES[service] - operations(documents[service])
    assert not missing, f"{service} lacks {sorted(missing)}"


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_serves_health_readiness_and_metrics(
    service: str, documents: dict[str, dict[str, Any]]
) -> None:
    missing = PLATFORM_ROUTES - operations(documents[service])
    assert not missing, f"{service} lacks {sorted(missing)}"


@pytest.mark.parametrize("service", SERVICES)
def test_routes_belong_to_their_own_service_only(service: str, documents: dict[str, dict[str, Any]]) -> None:
    """A service documents its own routes, not another service's (no accidental router sharing)."""
    others = set().union(*(routes for name, routes in SERVICE_ROUTES.items() if name != service))
    assert not others & operations(documents[service])


@pytest.mark.parametrize("service", SERVICES)
def test_openapi_is_deterministic(service: str) -> None:
    assert build_app(service).openapi() == build_app(service).openapi()


def test_app_state_exposes_the_platform_without_connecting() -> None:
    app = build_app("tickets")

    assert app.state.settings.service_name == "tickets"
    assert app.state.platform.settings is app.state.settings
    assert not app.state.platform.connected.is_set()


# --- AsyncAPI -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def asyncapi() -> dict[str, Any]:
    return asyncapi_document(installed_service_brokers())


@pytest.fixture(scope="module")
def subscriptions() -> Counter[str]:
    """How many subscribers of all services consume each topic."""
    found: Counter[str] = Counter()
    for service in SERVICES:
        for subscriber in build_app(service).state.platform.broker.subscribers:
            found.update(subscriber.topic_names)
    return found


def test_asyncapi_document_generates(asyncapi: dict[str, Any]) -> None:
    assert asyncapi["asyncapi"].startswith(("2.", "3."))
    assert asyncapi["info"]["title"] == "Ticketstream event backbone"
    assert asyncapi["channels"]


def test_asyncapi_channels_mention_every_subscribed_topic(
    asyncapi: dict[str, Any], subscriptions: Counter[str]
) -> None:
    text = repr(asyncapi["channels"])
    wanted = set(subscriptions) | {topics.INBOUND, topics.TICKETS}

    missing = sorted(topic for topic in wanted if topic not in text)
    assert not missing, f"AsyncAPI channels do not mention {missing}"


def test_asyncapi_has_a_channel_per_subscription(
    asyncapi: dict[str, Any], subscriptions: Counter[str]
) -> None:
    """tickets and notify (for bounces) consume inbound.v1; ingest, sla, notify and analytics
    (each twice: notify's webhooks and analytics' queue dashboard read in consumer groups of their
    own) consume tickets.v1."""
    addresses = Counter(
        channel.get("address") or channel.get("bindings", {}).get("kafka", {}).get("topic")
        for channel in asyncapi["channels"].values()
    )
    expected = subscriptions

    assert expected[topics.INBOUND] == 2
    assert expected[topics.TICKETS] == 6
    assert expected <= addresses, (
        f"channels {dict(addresses)} lack subscriptions {dict(expected - addresses)}"
    )


def test_asyncapi_describes_the_payload_of_every_produced_event(asyncapi: dict[str, Any]) -> None:
    """Each producing service documents its topic with every event model it may carry."""
    from ticketstream.contracts import EVENT_CLASSES

    schemas = asyncapi["components"]["schemas"]
    missing = sorted(event.__name__ for event in EVENT_CLASSES if event.__name__ not in schemas)
    assert not missing, f"AsyncAPI lacks payload schemas for {missing}"
    assert "ticket_id" in schemas["TicketCreated"]["properties"]
