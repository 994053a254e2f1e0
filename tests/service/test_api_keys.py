"""API keys for integrations: hashed at rest, scoped by area and access, revocable, expiring."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers import bearer, prepare_topics, running, settings_from
from ticketstream.auth import Role
from ticketstream.db import create_mongo_client
from ticketstream_tickets.app import create_app
from ticketstream_tickets.settings import Settings
from ticketstream_tickets.store_api_keys import API_KEYS


@pytest.fixture
def settings(infra_env) -> Settings:
    return settings_from(infra_env, Settings)


def key_auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_api_keys_act_within_their_scopes_role_and_teams_until_revoked(settings):
    await prepare_topics(settings)
    admin = bearer(settings, Role.ADMIN, sub="root")
    async with running(create_app(settings)) as client:
        support_ticket = (
            await client.post("/v1/tickets", json={"title": "Support work"}, headers=admin)
        ).json()
        reader = await client.post(
            "/v1/api-keys",
            json={"name": "BI export", "role": "manager", "scopes": ["tickets:read"]},
            headers=admin,
        )
        writer = await client.post(
            "/v1/api-keys",
            json={
                "name": "CRM sync",
                "role": "agent",
                "teams": ["billing"],
                "scopes": ["tickets:read", "tickets:write"],
            },
            headers=admin,
        )
        admin_key = await client.post(
            "/v1/api-keys",
            json={
                "name": "Provisioning",
                "role": "admin",
                "scopes": ["administration:read", "administration:write"],
            },
            headers=admin,
        )
        read_key, write_key = reader.json()["key"], writer.json()["key"]
        listed_by_reader = await client.get("/v1/tickets", headers=key_auth(read_key))
        via_header = await client.get(f"/v1/tickets/{support_ticket['ref']}", headers={"X-API-Key": read_key})
        reader_writes = await client.post("/v1/tickets", json={"title": "x"}, headers=key_auth(read_key))
        reader_admin = await client.get("/v1/teams", headers=key_auth(read_key))
        created = await client.post(
            "/v1/tickets",
            json={"title": "From the CRM", "assigned_team": "billing"},
            headers=key_auth(write_key),
        )
        other_team = await client.get(f"/v1/tickets/{support_ticket['ref']}", headers=key_auth(write_key))
        activity = await client.get(f"/v1/tickets/{created.json()['ref']}/activity", headers=admin)
        key_mints_key = await client.post(
            "/v1/api-keys",
            json={"name": "x", "scopes": ["tickets:read"]},
            headers=key_auth(admin_key.json()["key"]),
        )
        team_by_key = await client.put(
            "/v1/teams/integrations", json={"name": "Integrations"}, headers=key_auth(admin_key.json()["key"])
        )
        forged = await client.get("/v1/tickets", headers=key_auth(read_key[:-4] + "AAAA"))
        malformed = await client.get("/v1/tickets", headers=key_auth("tsk_nothing"))
        listed_keys = await client.get("/v1/api-keys", headers=admin)
        revoked = await client.delete(f"/v1/api-keys/{reader.json()['id']}", headers=admin)
        after_revoke = await client.get("/v1/tickets", headers=key_auth(read_key))
        revoked_again = await client.delete(f"/v1/api-keys/{reader.json()['id']}", headers=admin)
    assert reader.status_code == 201 and read_key.startswith("tsk_")
    assert listed_by_reader.status_code == 200 and via_header.status_code == 200
    assert reader_writes.status_code == 403 and "tickets:write" in reader_writes.json()["error"]["message"]
    assert reader_admin.status_code == 403
    assert created.status_code == 201
    assert other_team.status_code == 404, "an agent-role key sees only its teams' tickets"
    assert activity.json()["items"][0]["actor"] == f"apikey:{writer.json()['id']}"
    assert key_mints_key.status_code == 403 and team_by_key.status_code == 200
    assert forged.status_code == 401 and malformed.status_code == 401
    assert all("key" not in item and "secret_digest" not in item for item in listed_keys.json())
    assert {item["name"] for item in listed_keys.json()} == {"BI export", "CRM sync", "Provisioning"}
    assert revoked.status_code == 204 and after_revoke.status_code == 401 and revoked_again.status_code == 404


async def test_keys_are_stored_as_digests_and_refused_after_they_expire(settings):
    await prepare_topics(settings)
    admin = bearer(settings, Role.ADMIN, sub="root")
    async with running(create_app(settings)) as client:
        past = await client.post(
            "/v1/api-keys",
            json={"name": "late", "scopes": ["tickets:read"], "expires_at": "2020-01-01T00:00:00Z"},
            headers=admin,
        )
        soon = datetime.now(UTC) + timedelta(seconds=2)
        short = await client.post(
            "/v1/api-keys",
            json={"name": "short", "scopes": ["tickets:read"], "expires_at": soon.isoformat()},
            headers=admin,
        )
        key = short.json()["key"]
        before = await client.get("/v1/tickets", headers=key_auth(key))
        await asyncio.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 0.5)
        after = await client.get("/v1/tickets", headers=key_auth(key))
    mongo = create_mongo_client(settings)
    try:
        stored = await mongo[settings.database_name][API_KEYS].find_one({"_id": short.json()["id"]})
    finally:
        await mongo.close()
    assert past.status_code == 422
    assert before.status_code == 200 and after.status_code == 401
    secret = key.split("_", 2)[2]
    assert stored is not None and secret not in str(stored) and len(stored["secret_digest"]) == 64
    assert stored["last_used_at"] is not None
