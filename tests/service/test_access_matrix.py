"""Every route of the tickets service, for every role: who gets in, who gets 401, 403 or 404.

The table must name every route the app serves, so a new route cannot ship without deciding who
may use it. "ok" means the caller got past access control (any answer but 401/403/404 and no 5xx;
a 422 for a rule the ticket breaks still proves access).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.helpers import bearer, prepare_topics, running, settings_from
from ticketstream.auth import Role
from ticketstream_tickets.app import create_app
from ticketstream_tickets.settings import Settings

OK, UNAUTHENTICATED, FORBIDDEN, HIDDEN = "ok", 401, 403, 404
ROLES = (
    "anonymous",
    "customer",
    "other_customer",
    "agent",
    "other_team_agent",
    "team_lead",
    "manager",
    "admin",
)
OPERATIONS = {"/healthz", "/readyz", "/metrics", "/asyncapi.json", "/openapi.json", "/docs", "/redoc"}


def expect(**overrides: Any) -> dict[str, Any]:
    """Staff ticket routes: support staff and above get in; the other team and customers see 404."""
    base = {
        "anonymous": UNAUTHENTICATED,
        "customer": HIDDEN,
        "other_customer": HIDDEN,
        "agent": OK,
        "other_team_agent": HIDDEN,
        "team_lead": OK,
        "manager": OK,
        "admin": OK,
    }
    return {**base, **overrides}


STAFF_ANY_TICKET = expect(other_team_agent=OK)  # routes not about one ticket
MANAGER_READ = expect(agent=FORBIDDEN, other_team_agent=FORBIDDEN, team_lead=FORBIDDEN)
ADMIN_WRITE = expect(agent=FORBIDDEN, other_team_agent=FORBIDDEN, team_lead=FORBIDDEN, manager=FORBIDDEN)
PORTAL = {role: HIDDEN for role in ROLES} | {"anonymous": UNAUTHENTICATED, "customer": OK}
PORTAL_LIST = PORTAL | {"other_customer": OK}
MAGIC = {role: OK for role in ROLES}

Call = Callable[[httpx.AsyncClient, dict[str, str], dict[str, Any]], Awaitable[httpx.Response]]


def call(method: str, path: str, body: Callable[[dict[str, Any]], Any] | None = None, **headers: str) -> Call:
    async def run(client: httpx.AsyncClient, auth: dict[str, str], fixture: dict[str, Any]) -> httpx.Response:
        return await client.request(
            method,
            path.format(**fixture),
            json=body(fixture) if body else None,
            headers={**auth, **{name.replace("_", "-"): value for name, value in headers.items()}},
        )

    return run


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


MATRIX: dict[tuple[str, str], tuple[Call, dict[str, Any]]] = {
    ("GET", "/v1/tickets"): (call("GET", "/v1/tickets"), STAFF_ANY_TICKET),
    ("POST", "/v1/tickets"): (call("POST", "/v1/tickets", lambda f: {"title": "new"}), STAFF_ANY_TICKET),
    ("POST", "/v1/tickets/bulk"): (
        call("POST", "/v1/tickets/bulk", lambda f: {"refs": [f["ref"]], "changes": {"priority": "HIGH"}}),
        STAFF_ANY_TICKET,
    ),
    ("GET", "/v1/tickets/{ref}"): (call("GET", "/v1/tickets/{ref}"), expect()),
    ("PATCH", "/v1/tickets/{ref}"): (
        call("PATCH", "/v1/tickets/{ref}", lambda f: {"priority": "HIGH"}, If_Match='"1"'),
        expect(),
    ),
    ("GET", "/v1/tickets/{ref}/interactions"): (call("GET", "/v1/tickets/{ref}/interactions"), expect()),
    ("GET", "/v1/tickets/{ref}/activity"): (call("GET", "/v1/tickets/{ref}/activity"), expect()),
    ("GET", "/v1/tickets/{ref}/canned-responses/{canned_id}"): (
        call("GET", "/v1/tickets/{ref}/canned-responses/{canned_id}"),
        expect(),
    ),
    ("POST", "/v1/tickets/{ref}/replies"): (
        call("POST", "/v1/tickets/{ref}/replies", lambda f: {"body": "reply"}),
        expect(),
    ),
    ("POST", "/v1/tickets/{ref}/notes"): (
        call("POST", "/v1/tickets/{ref}/notes", lambda f: {"body": "n"}),
        expect(),
    ),
    ("POST", "/v1/tickets/{ref}/logs"): (
        call("POST", "/v1/tickets/{ref}/logs", lambda f: {"type": "PHONE_CALL", "body": "called"}),
        expect(),
    ),
    ("POST", "/v1/tickets/{ref}/escalate"): (
        call("POST", "/v1/tickets/{ref}/escalate", lambda f: {"reason": "r"}),
        expect(),
    ),
    ("POST", "/v1/tickets/{ref}/merge"): (
        call("POST", "/v1/tickets/{ref}/merge", lambda f: {"into": f["other_ref"]}),
        expect(),
    ),
    ("POST", "/v1/tickets/{ref}/split"): (
        call("POST", "/v1/tickets/{ref}/split", lambda f: {"interaction_id": f["interaction_id"]}),
        expect(),
    ),
    ("POST", "/v1/tickets/{ref}/archive"): (call("POST", "/v1/tickets/{ref}/archive"), expect()),
    ("POST", "/v1/tickets/{ref}/magic-link"): (call("POST", "/v1/tickets/{ref}/magic-link"), expect()),
    ("GET", "/v1/portal/tickets"): (call("GET", "/v1/portal/tickets"), PORTAL_LIST),
    ("GET", "/v1/portal/tickets/{ref}"): (call("GET", "/v1/portal/tickets/{ref}"), PORTAL),
    ("POST", "/v1/portal/tickets/{ref}/replies"): (
        call("POST", "/v1/portal/tickets/{ref}/replies", lambda f: {"body": "hi"}),
        PORTAL,
    ),
    ("GET", "/v1/portal/magic/{token}"): (call("GET", "/v1/portal/magic/{token}"), MAGIC),
    ("POST", "/v1/portal/magic/{token}/replies"): (
        call("POST", "/v1/portal/magic/{token}/replies", lambda f: {"body": "hi"}),
        MAGIC,
    ),
    ("GET", "/v1/routing-rules"): (call("GET", "/v1/routing-rules"), MANAGER_READ),
    ("POST", "/v1/routing-rules"): (
        call("POST", "/v1/routing-rules", lambda f: {"name": "r", "keywords": ["zz"], "team": "support"}),
        ADMIN_WRITE,
    ),
    ("GET", "/v1/routing-rules/{rule_id}"): (call("GET", "/v1/routing-rules/{rule_id}"), MANAGER_READ),
    ("PUT", "/v1/routing-rules/{rule_id}"): (
        call("PUT", "/v1/routing-rules/{rule_id}", lambda f: {"name": "r", "keywords": ["zz"], "team": "s"}),
        ADMIN_WRITE,
    ),
    ("DELETE", "/v1/routing-rules/{rule_id}"): (call("DELETE", "/v1/routing-rules/{rule_id}"), ADMIN_WRITE),
    ("GET", "/v1/teams"): (call("GET", "/v1/teams"), MANAGER_READ),
    ("PUT", "/v1/teams/{team_id}"): (
        call("PUT", "/v1/teams/{scratch}", lambda f: {"name": "T"}),
        ADMIN_WRITE,
    ),
    ("DELETE", "/v1/teams/{team_id}"): (call("DELETE", "/v1/teams/{team_id}"), ADMIN_WRITE),
    ("GET", "/v1/agents"): (call("GET", "/v1/agents"), MANAGER_READ),
    ("PUT", "/v1/agents/{agent_id}"): (
        call("PUT", "/v1/agents/{scratch}", lambda f: {"email": f"{f['scratch']}@x.example", "name": "A"}),
        ADMIN_WRITE,
    ),
    ("DELETE", "/v1/agents/{agent_id}"): (call("DELETE", "/v1/agents/{agent_id}"), ADMIN_WRITE),
    ("GET", "/v1/canned-responses"): (call("GET", "/v1/canned-responses"), STAFF_ANY_TICKET),
    ("GET", "/v1/canned-responses/placeholders"): (
        call("GET", "/v1/canned-responses/placeholders"),
        STAFF_ANY_TICKET,
    ),
    ("POST", "/v1/canned-responses"): (
        call("POST", "/v1/canned-responses", lambda f: {"title": "t", "body": "b"}),
        MANAGER_READ,
    ),
    ("PUT", "/v1/canned-responses/{canned_id}"): (
        call("PUT", "/v1/canned-responses/{canned_id}", lambda f: {"title": "t", "body": "b"}),
        MANAGER_READ,
    ),
    ("DELETE", "/v1/canned-responses/{canned_id}"): (
        call("DELETE", "/v1/canned-responses/{canned_id}"),
        MANAGER_READ,
    ),
    ("GET", "/v1/customers"): (call("GET", "/v1/customers"), STAFF_ANY_TICKET),
    ("GET", "/v1/customers/{customer_id}"): (call("GET", "/v1/customers/{customer_id}"), STAFF_ANY_TICKET),
    ("PATCH", "/v1/customers/{customer_id}"): (
        call("PATCH", "/v1/customers/{customer_id}", lambda f: {"tier": "gold"}),
        MANAGER_READ,
    ),
    ("GET", "/v1/organisations"): (call("GET", "/v1/organisations"), STAFF_ANY_TICKET),
    ("GET", "/v1/activity"): (call("GET", "/v1/activity?actor=root&limit=5"), MANAGER_READ),
    ("PUT", "/v1/organisations/{organisation_id}"): (
        call("PUT", "/v1/organisations/{scratch}", lambda f: {"name": "O"}),
        ADMIN_WRITE,
    ),
    ("GET", "/v1/categories"): (call("GET", "/v1/categories"), STAFF_ANY_TICKET),
    ("PUT", "/v1/categories"): (
        call("PUT", "/v1/categories", lambda f: {"values": ["Billing"], "restricted": False}),
        ADMIN_WRITE,
    ),
    ("GET", "/v1/labels"): (call("GET", "/v1/labels"), STAFF_ANY_TICKET),
    ("PUT", "/v1/labels"): (
        call("PUT", "/v1/labels", lambda f: {"values": ["vip"], "restricted": False}),
        ADMIN_WRITE,
    ),
    ("GET", "/v1/custom-fields"): (call("GET", "/v1/custom-fields"), STAFF_ANY_TICKET),
    ("PUT", "/v1/custom-fields/{key}"): (
        call("PUT", "/v1/custom-fields/{field_key}", lambda f: {"label": "L", "type": "text"}),
        ADMIN_WRITE,
    ),
    ("DELETE", "/v1/custom-fields/{key}"): (call("DELETE", "/v1/custom-fields/{field_key}"), ADMIN_WRITE),
    ("GET", "/v1/api-keys"): (call("GET", "/v1/api-keys"), ADMIN_WRITE),
    ("POST", "/v1/api-keys"): (
        call("POST", "/v1/api-keys", lambda f: {"name": "k", "scopes": ["tickets:read"]}),
        ADMIN_WRITE,
    ),
    ("DELETE", "/v1/api-keys/{key_id}"): (call("DELETE", "/v1/api-keys/{key_id}"), ADMIN_WRITE),
}


# Routes whose success uses up their object: every role gets a fresh one.
CONSUMING = {key for key in MATRIX if key[0] == "DELETE"} | {("POST", "/v1/tickets/{ref}/split")}


def served_routes() -> set[tuple[str, str]]:
    paths = create_app(Settings()).openapi()["paths"]
    return {
        (method.upper(), path)
        for path, operations in paths.items()
        if path not in OPERATIONS
        for method in operations
    }


def test_the_matrix_names_every_route() -> None:
    assert set(MATRIX) == served_routes()


@pytest.fixture
def settings(infra_env) -> Settings:
    return settings_from(infra_env, Settings)


def headers_for(role: str, settings: Settings) -> dict[str, str]:
    return {
        "anonymous": {},
        "customer": bearer(settings, Role.CUSTOMER, sub="kim", email="kim@example.com"),
        "other_customer": bearer(settings, Role.CUSTOMER, sub="zed", email="zed@example.com"),
        "agent": bearer(settings, Role.AGENT, sub="alice", teams=["support"]),
        "other_team_agent": bearer(settings, Role.AGENT, sub="bo", teams=["billing"]),
        "team_lead": bearer(settings, Role.TEAM_LEAD, sub="lea", teams=["support"]),
        "manager": bearer(settings, Role.MANAGER, sub="mia", teams=[]),
        "admin": bearer(settings, Role.ADMIN, sub="root", teams=[]),
    }[role]


async def fresh_fixture(client: httpx.AsyncClient, settings: Settings) -> dict[str, Any]:
    """A support-team ticket of kim's (and a second one to merge into), plus admin objects."""
    admin = headers_for("admin", settings)

    async def ticket() -> dict[str, Any]:
        created = await client.post(
            "/v1/tickets", json={"title": "t", "requester": {"email": "kim@example.com"}}, headers=admin
        )
        return created.json()

    first, second = await ticket(), await ticket()
    canned_id, rule_id, scratch = unique("canned"), unique("rule"), unique("x")
    await client.post(
        "/v1/canned-responses", json={"id": canned_id, "title": "t", "body": "b"}, headers=admin
    )
    await client.post(
        "/v1/routing-rules",
        json={"id": rule_id, "name": "r", "keywords": ["zzz"], "team": "support"},
        headers=admin,
    )
    link = (await client.post(f"/v1/tickets/{first['ref']}/magic-link", headers=admin)).json()
    note = await client.post(f"/v1/tickets/{first['ref']}/notes", json={"body": "to split"}, headers=admin)
    api_key = await client.post("/v1/api-keys", json={"name": "k", "scopes": ["tickets:read"]}, headers=admin)
    field_key = "f_" + uuid.uuid4().hex[:8]
    await client.put(f"/v1/custom-fields/{field_key}", json={"label": "F", "type": "text"}, headers=admin)
    team_id, agent_id = unique("team"), unique("agent")
    await client.put(f"/v1/teams/{team_id}", json={"name": "T"}, headers=admin)
    await client.put(
        f"/v1/agents/{agent_id}", json={"email": f"{agent_id}@x.example", "name": "A"}, headers=admin
    )
    return {
        "interaction_id": note.json()["interaction"]["id"],
        "team_id": team_id,
        "agent_id": agent_id,
        "ref": first["ref"],
        "other_ref": second["ref"],
        "customer_id": first["customer_id"],
        "canned_id": canned_id,
        "rule_id": rule_id,
        "scratch": scratch,
        "field_key": field_key,
        "key_id": api_key.json()["id"],
        "token": link["token"],
    }


async def test_every_route_for_every_role(settings):
    await prepare_topics(settings)
    failures = []
    async with running(create_app(settings)) as client:
        for (method, path), (run, expected) in MATRIX.items():
            fixture = await fresh_fixture(client, settings)
            for role in ROLES:
                if (method, path) in CONSUMING:
                    fixture = await fresh_fixture(client, settings)  # each role uses up its own object
                response = await run(client, headers_for(role, settings), fixture)
                wanted = expected[role]
                got_in = response.status_code not in {401, 403, 404} and response.status_code < 500
                allowed_as_expected = wanted == OK and got_in
                if not allowed_as_expected and response.status_code != wanted:
                    failures.append(f"{method} {path} as {role}: {response.status_code} (wanted {wanted})")
    assert not failures, "\n".join(failures)
