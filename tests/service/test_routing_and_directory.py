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
        settings.kafka_bootstrap,
        settings.topic(topics.DIRECTORY),
        until=lambda r: any(x.headers["ce_type"] == "directory.team" for x in r),
    )
    # Customers are on the same topic (other keys, other partitions): pick the team's record.
    [team_record] = [r for r in directory if r.headers["ce_type"] == "directory.team"]
    assert team_record.key == "enterprise" and json.loads(team_record.value)["lead_ids"] == ["lea"]


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


async def test_canned_responses_fill_placeholders_and_refuse_unknown_ones(settings):
    await prepare_topics(settings)
    manager = bearer(settings, Role.MANAGER, sub="mia")
    agent = bearer(settings, sub="alice", name="Alice Agent")
    async with running(create_app(settings)) as client:
        ticket = (
            await client.post(
                "/v1/tickets",
                json={"title": "Reset link", "requester": {"email": "kim@example.com", "name": "Kim"}},
                headers=agent,
            )
        ).json()
        created = await client.post(
            "/v1/canned-responses",
            json={
                "id": "reset",
                "title": "Password reset",
                "body": "Hi {{customer_name}}, about {{ ticket_id }}: use the new link. — {{agent_name}}",
            },
            headers=manager,
        )
        typo = await client.post(
            "/v1/canned-responses", json={"title": "Bad", "body": "Hello {{customer_nmae}}"}, headers=manager
        )
        by_agent = await client.post("/v1/canned-responses", json={"title": "x", "body": "y"}, headers=agent)
        preview = await client.get(f"/v1/tickets/{ticket['ref']}/canned-responses/reset", headers=agent)
        reply = await client.post(
            f"/v1/tickets/{ticket['ref']}/replies", json={"canned_response_id": "reset"}, headers=agent
        )
        both = await client.post(
            f"/v1/tickets/{ticket['ref']}/replies",
            json={"body": "x", "canned_response_id": "reset"},
            headers=agent,
        )
        missing = await client.post(
            f"/v1/tickets/{ticket['ref']}/replies", json={"canned_response_id": "nope"}, headers=agent
        )
        placeholders = (await client.get("/v1/canned-responses/placeholders", headers=agent)).json()
    expected = f"Hi Kim, about {ticket['ref']}: use the new link. — Alice Agent"
    assert created.status_code == 201
    assert typo.status_code == 422 and typo.json()["error"]["details"]["unknown"] == ["customer_nmae"]
    assert by_agent.status_code == 403
    assert preview.json()["body"] == expected
    assert reply.status_code == 201 and reply.json()["interaction"]["body_text"] == expected
    assert both.status_code == 422 and missing.status_code == 422
    assert "{{customer_name}}" in placeholders


async def test_bulk_changes_report_per_ticket(settings):
    await prepare_topics(settings)
    agent = bearer(settings, sub="alice")
    async with running(create_app(settings)) as client:
        refs = [
            (
                await client.post("/v1/tickets", json={"title": f"t{i}", "tags": ["old"]}, headers=agent)
            ).json()["ref"]
            for i in range(3)
        ]
        hidden = (
            await client.post(
                "/v1/tickets", json={"title": "other team", "assigned_team": "billing"}, headers=agent
            )
        ).json()["ref"]
        closed = await client.get(f"/v1/tickets/{refs[2]}", headers=agent)
        await client.patch(
            f"/v1/tickets/{refs[2]}", json={"status": "CLOSED"}, headers={**agent, "If-Match": '"1"'}
        )
        result = await client.post(
            "/v1/tickets/bulk",
            json={
                "refs": [*refs, hidden, "TKT-9999"],
                "changes": {
                    "status": "PENDING",
                    "priority": "HIGH",
                    "add_tags": ["Outage"],
                    "remove_tags": ["old"],
                },
            },
            headers=agent,
        )
        too_many = await client.post(
            "/v1/tickets/bulk",
            json={"refs": ["TKT-0001"] * 501, "changes": {"priority": "LOW"}},
            headers=agent,
        )
        nothing = await client.post(
            "/v1/tickets/bulk", json={"refs": ["TKT-0001"], "changes": {}}, headers=agent
        )
        first = (await client.get(f"/v1/tickets/{refs[0]}", headers=agent)).json()
    assert closed.status_code == 200
    body = result.json()
    assert (body["succeeded"], body["failed"]) == (2, 3)
    outcome = {item["ref"]: (item["ok"], item["code"]) for item in body["items"]}
    assert outcome == {
        refs[0]: (True, None),
        refs[1]: (True, None),
        refs[2]: (False, "transition_not_allowed"),
        hidden: (False, "not_found"),
        "TKT-9999": (False, "not_found"),
    }
    assert first["status"] == "PENDING" and first["priority"] == "HIGH" and first["tags"] == ["outage"]
    assert too_many.status_code == 422 and nothing.status_code == 422


async def test_customers_join_organisations_by_domain_never_by_free_mail_and_cc_become_contacts(settings):
    from tests.helpers import eventually
    from tests.service.test_tickets import inbound, publish

    await prepare_topics(settings)
    admin = bearer(settings, Role.ADMIN, sub="root")
    async with running(create_app(settings)) as client:
        acme = await client.put(
            "/v1/organisations/acme",
            json={"name": "Acme", "domains": ["ACME.example", "@acme-corp.example"], "tier": "enterprise"},
            headers=admin,
        )
        free = await client.put(
            "/v1/organisations/gmailers", json={"name": "No", "domains": ["gmail.com"]}, headers=admin
        )
        clash = await client.put(
            "/v1/organisations/other", json={"name": "Other", "domains": ["acme.example"]}, headers=admin
        )
        email = inbound(sender="pat@acme.example", subject="Our SSO is down").model_copy(
            update={"cc": ["boss@acme-corp.example", "support@ticketstream.local", "friend@gmail.com"]}
        )
        await publish(settings, email)

        async def ticket():
            response = await client.get("/v1/tickets/TKT-0001", headers=admin)
            return response.json() if response.status_code == 200 else None

        created = await eventually(ticket)
        customers = (await client.get("/v1/customers?limit=10", headers=admin)).json()
        api_ticket = await client.post(
            "/v1/tickets", json={"title": "x", "requester": {"email": "joe@gmail.com"}}, headers=admin
        )
        joe = (await client.get("/v1/customers?email=joe@gmail.com", headers=admin)).json()
        moved = await client.patch(
            f"/v1/customers/{joe[0]['id']}", json={"organisation_id": "acme"}, headers=admin
        )
        bad_move = await client.patch(
            f"/v1/customers/{joe[0]['id']}", json={"organisation_id": "nope"}, headers=admin
        )
    assert acme.status_code == 200 and acme.json()["domains"] == ["acme-corp.example", "acme.example"]
    assert free.status_code == 422 and free.json()["error"]["details"] == {"free_mail_domains": ["gmail.com"]}
    assert clash.status_code == 422
    by_email = {c["email"]: c for c in customers}
    assert set(by_email) == {"pat@acme.example", "boss@acme-corp.example", "friend@gmail.com"}
    assert by_email["pat@acme.example"]["organisation_id"] == "acme"
    assert by_email["pat@acme.example"]["tier"] == "enterprise"
    assert by_email["boss@acme-corp.example"]["organisation_id"] == "acme"
    assert by_email["friend@gmail.com"]["organisation_id"] is None
    assert created["organisation_id"] == "acme"
    assert created["contact_ids"][0] == by_email["pat@acme.example"]["id"]
    assert sorted(created["contact_ids"][1:]) == sorted(
        [by_email["boss@acme-corp.example"]["id"], by_email["friend@gmail.com"]["id"]]
    )
    assert api_ticket.json()["organisation_id"] is None
    assert moved.json()["organisation_id"] == "acme" and bad_move.status_code == 422
    customer_events = await read_topic(
        settings.kafka_bootstrap,
        settings.topic(topics.DIRECTORY),
        until=lambda r: sum(x.headers["ce_type"] == "directory.customer" for x in r) >= 5,
    )
    assert {json.loads(r.value)["email"] for r in customer_events} >= {"pat@acme.example", "joe@gmail.com"}


async def test_organisation_grant_lets_a_customer_follow_colleagues_tickets_only_when_granted(settings):
    await prepare_topics(settings)
    admin = bearer(settings, Role.ADMIN, sub="root")
    sam = bearer(settings, Role.CUSTOMER, sub="sam", email="sam@acme.example")
    async with running(create_app(settings)) as client:
        await client.put(
            "/v1/organisations/acme", json={"name": "Acme", "domains": ["acme.example"]}, headers=admin
        )
        refs = {}
        for requester in ("pat@acme.example", "sam@acme.example", "lou@elsewhere.example"):
            created = await client.post(
                "/v1/tickets",
                json={"title": f"From {requester}", "requester": {"email": requester}},
                headers=admin,
            )
            refs[requester] = created.json()["ref"]

        async def portal_refs() -> list[str]:
            listed = await client.get("/v1/portal/tickets", headers=sam)
            return sorted(item["ref"] for item in listed.json()["items"])

        before_grant = await portal_refs()
        colleague_before = await client.get(f"/v1/portal/tickets/{refs['pat@acme.example']}", headers=sam)
        sam_id = (await client.get("/v1/customers?email=sam@acme.example", headers=admin)).json()[0]["id"]
        lou_id = (await client.get("/v1/customers?email=lou@elsewhere.example", headers=admin)).json()[0][
            "id"
        ]
        granted = await client.patch(
            f"/v1/customers/{sam_id}", json={"sees_organisation_tickets": True}, headers=admin
        )
        no_organisation = await client.patch(
            f"/v1/customers/{lou_id}", json={"sees_organisation_tickets": True}, headers=admin
        )
        after_grant = await portal_refs()
        colleague_after = await client.get(f"/v1/portal/tickets/{refs['pat@acme.example']}", headers=sam)
        reply = await client.post(
            f"/v1/portal/tickets/{refs['pat@acme.example']}/replies", json={"body": "Same here"}, headers=sam
        )
        outsider = await client.get(f"/v1/portal/tickets/{refs['lou@elsewhere.example']}", headers=sam)
    assert before_grant == [refs["sam@acme.example"]]
    assert colleague_before.status_code == 404
    assert granted.status_code == 200 and granted.json()["sees_organisation_tickets"] is True
    assert no_organisation.status_code == 422
    assert after_grant == sorted([refs["pat@acme.example"], refs["sam@acme.example"]])
    assert colleague_after.status_code == 200
    assert reply.status_code == 201 and reply.json()["body_text"] == "Same here"
    assert outsider.status_code == 404
