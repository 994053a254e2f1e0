"""Routing rules, teams and agents through the admin API, applied to new tickets."""

from __future__ import annotations

import json

import pytest

from tests.helpers import bearer, prepare_topics, read_topic, running, settings_from
from ticketstream.auth import Role
from ticketstream.contracts import topics
from ticketstream_tickets.app import create_app
from ticketstream_tickets.settings import Settings


@pytest.fixture
def settings(infra_env) -> Settings:
    return settings_from(infra_env, Settings)


async def test_default_rule_makes_deliverability_problems_urgent(settings):
    await prepare_topics(settings)
    agent = bearer(settings)
    async with running(create_app(settings)) as client:
        bounced = await client.post(
            "/v1/tickets",
            json={
                "title": "Our invoices bounced",
                "description": "Customers are not receiving emails from us",
            },
            headers=agent,
        )
        unrelated = await client.post("/v1/tickets", json={"title": "Bouncer app crashes"}, headers=agent)
        activity = (await client.get(f"/v1/tickets/{bounced.json()['ref']}/activity", headers=agent)).json()
    assert bounced.json()["priority"] == "URGENT" and bounced.json()["tags"] == ["deliverability"]
    assert unrelated.json()["priority"] == "MEDIUM", "whole words only: 'Bouncer' is not 'bounce'"
    assert activity["items"][0]["changes"] == [
        {"field": "routing_rule", "before": None, "after": "default-email-deliverability"}
    ]


async def test_admin_rules_route_by_sender_domain_round_robin_within_a_team(settings):
    await prepare_topics(settings)
    admin = bearer(settings, Role.ADMIN, sub="root")
    async with running(create_app(settings)) as client:
        team = await client.put(
            "/v1/teams/enterprise",
            json={"name": "Enterprise", "member_ids": ["ann", "ben", "cy"], "lead_ids": ["lea"]},
            headers=admin,
        )
        rule = await client.post(
            "/v1/routing-rules",
            json={
                "id": "acme",
                "name": "Acme goes to enterprise",
                "position": 5,
                "sender_domains": ["acme.example"],
                "team": "enterprise",
                "strategy": "round_robin",
                "priority": "HIGH",
            },
            headers=admin,
        )
        assignees = []
        for index in range(4):
            created = await client.post(
                "/v1/tickets",
                json={"title": f"Acme {index}", "requester": {"email": f"u{index}@acme.example"}},
                headers=admin,
            )
            body = created.json()
            assert body["assigned_team"] == "enterprise" and body["priority"] == "HIGH"
            assignees.append(body["assignee_ids"])
        other = await client.post(
            "/v1/tickets", json={"title": "Other", "requester": {"email": "x@other.example"}}, headers=admin
        )
        invalid = await client.post(
            "/v1/routing-rules", json={"name": "no conditions", "team": "x"}, headers=admin
        )
        as_agent = await client.post(
            "/v1/routing-rules", json={"name": "n", "keywords": ["ab"], "team": "t"}, headers=bearer(settings)
        )
        as_customer = await client.get(
            "/v1/routing-rules", headers=bearer(settings, Role.CUSTOMER, email="c@example.com")
        )
        listed = (await client.get("/v1/routing-rules", headers=admin)).json()
        deleted = await client.delete("/v1/routing-rules/acme", headers=admin)
        after_delete = await client.post(
            "/v1/tickets",
            json={"title": "Acme later", "requester": {"email": "z@acme.example"}},
            headers=admin,
        )
    assert team.status_code == 200 and rule.status_code == 201, rule.text
    assert assignees == [["ann"], ["ben"], ["cy"], ["ann"]]
    assert other.json()["assigned_team"] == "support" and other.json()["assignee_ids"] == []
    assert invalid.status_code == 422
    assert "at least one condition" in json.dumps(invalid.json()["error"]["details"])
    assert as_agent.status_code == 403 and as_customer.status_code == 404
    assert [r["id"] for r in listed] == ["acme", "default-email-deliverability"]
    assert deleted.status_code == 204 and after_delete.json()["assigned_team"] == "support"
    directory = await read_topic(
        settings.kafka_bootstrap, settings.topic(topics.DIRECTORY), until=lambda r: len(r) >= 1
    )
    assert directory[0].headers["ce_type"] == "directory.team" and directory[0].key == "enterprise"
    assert json.loads(directory[0].value)["lead_ids"] == ["lea"]


async def test_least_loaded_picks_the_member_with_fewest_active_tickets(settings):
    await prepare_topics(settings)
    admin = bearer(settings, Role.ADMIN, sub="root")
    async with running(create_app(settings)) as client:
        await client.put(
            "/v1/teams/tier2", json={"name": "Tier 2", "member_ids": ["ann", "ben"]}, headers=admin
        )
        # ann already carries two active tickets, ben one.
        for assignee in ("ann", "ann", "ben"):
            created = await client.post("/v1/tickets", json={"title": "busy"}, headers=admin)
            await client.patch(
                f"/v1/tickets/{created.json()['ref']}",
                json={"assignee_ids": [assignee]},
                headers={**admin, "If-Match": '"1"'},
            )
        await client.post(
            "/v1/routing-rules",
            json={"name": "Billing", "categories": ["billing"], "team": "tier2", "strategy": "least_loaded"},
            headers=admin,
        )
        picks = []
        for _ in range(2):
            created = await client.post(
                "/v1/tickets", json={"title": "Refund", "category": "billing"}, headers=admin
            )
            picks.append(created.json()["assignee_ids"])
    assert picks == [["ben"], ["ann"]], "ben (1) first; then both have 2 and the tie goes to ann"
