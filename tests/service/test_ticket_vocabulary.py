"""Managed category and label lists and custom fields, defined by admins and enforced on tickets."""

from __future__ import annotations

import pytest

from tests.helpers import bearer, prepare_topics, running, settings_from
from ticketstream.auth import Role
from ticketstream_tickets.app import create_app
from ticketstream_tickets.settings import Settings


@pytest.fixture
def settings(infra_env) -> Settings:
    return settings_from(infra_env, Settings)


async def test_custom_fields_and_managed_lists_are_enforced_on_what_agents_send(settings):
    await prepare_topics(settings)
    admin = bearer(settings, Role.ADMIN, sub="root")
    agent = bearer(settings)
    async with running(create_app(settings)) as client:
        plan = await client.put(
            "/v1/custom-fields/plan",
            json={"label": "Plan", "type": "select", "options": ["free", "pro"], "required_to_resolve": True},
            headers=admin,
        )
        await client.put("/v1/custom-fields/seats", json={"label": "Seats", "type": "number"}, headers=admin)
        await client.put(
            "/v1/custom-fields/renewal", json={"label": "Renewal", "type": "date"}, headers=admin
        )
        bad_definition = await client.put(
            "/v1/custom-fields/Bad-Key", json={"label": "x", "type": "text"}, headers=admin
        )
        optionless = await client.put(
            "/v1/custom-fields/tier", json={"label": "x", "type": "select"}, headers=admin
        )
        await client.put(
            "/v1/categories", json={"values": ["Billing", "Technical"], "restricted": True}, headers=admin
        )
        categories = (await client.get("/v1/categories", headers=agent)).json()
        fields = (await client.get("/v1/custom-fields", headers=agent)).json()

        wrong_category = await client.post(
            "/v1/tickets", json={"title": "x", "category": "Other"}, headers=agent
        )
        wrong_values = await client.post(
            "/v1/tickets",
            json={"title": "x", "custom_fields": {"plan": "gold", "seats": "many", "colour": "red"}},
            headers=agent,
        )
        created = await client.post(
            "/v1/tickets",
            json={
                "title": "Seats",
                "category": "Billing",
                "custom_fields": {"seats": 12, "renewal": "2026-12-01"},
            },
            headers=agent,
        )
        ref = created.json()["ref"]
        unresolvable = await client.patch(
            f"/v1/tickets/{ref}", json={"status": "RESOLVED"}, headers={**agent, "If-Match": '"1"'}
        )
        filled = await client.patch(
            f"/v1/tickets/{ref}",
            json={"custom_fields": {"plan": "pro", "seats": None}, "status": "RESOLVED"},
            headers={**agent, "If-Match": '"1"'},
        )
        await client.put(
            "/v1/labels", json={"values": ["VIP", "churn-risk"], "restricted": True}, headers=admin
        )
        bulk = await client.post(
            "/v1/tickets/bulk", json={"refs": [ref], "changes": {"add_tags": ["random"]}}, headers=agent
        )
        tagged = await client.post(
            "/v1/tickets/bulk", json={"refs": [ref], "changes": {"add_tags": ["vip"]}}, headers=agent
        )
        activity = (await client.get(f"/v1/tickets/{ref}/activity", headers=agent)).json()["items"]
        deleted = await client.delete("/v1/custom-fields/seats", headers=admin)
        after_delete = await client.get(f"/v1/tickets/{ref}", headers=agent)
    assert plan.status_code == 200 and plan.json()["key"] == "plan"
    assert bad_definition.status_code == 422 and optionless.status_code == 422
    assert categories == {"values": ["Billing", "Technical"], "restricted": True}
    assert [field["key"] for field in fields] == ["plan", "renewal", "seats"]
    assert wrong_category.status_code == 422
    assert wrong_category.json()["error"]["details"]["category"]["allowed"] == ["Billing", "Technical"]
    assert wrong_values.status_code == 422
    assert set(wrong_values.json()["error"]["details"]["custom_fields"]) == {"plan", "seats", "colour"}
    assert created.status_code == 201
    assert created.json()["custom_fields"] == {"seats": 12, "renewal": "2026-12-01"}
    assert unresolvable.status_code == 422
    assert unresolvable.json()["error"]["details"] == {"missing_custom_fields": ["plan"]}
    assert filled.status_code == 200 and filled.json()["status"] == "RESOLVED"
    assert filled.json()["custom_fields"] == {"renewal": "2026-12-01", "plan": "pro"}
    assert bulk.json()["items"][0]["ok"] is False and bulk.json()["items"][0]["code"] == "rule_violated"
    assert tagged.json()["items"][0]["ok"] is True
    field_changes = [c for entry in activity for c in entry["changes"] if c["field"] == "custom_fields"]
    assert field_changes == [
        {
            "field": "custom_fields",
            "before": {"seats": 12, "renewal": "2026-12-01"},
            "after": {"renewal": "2026-12-01", "plan": "pro"},
        }
    ]
    assert deleted.status_code == 204
    assert after_delete.json()["custom_fields"] == {"renewal": "2026-12-01", "plan": "pro"}
