"""The reactive flow of a ticket through the agent and portal APIs, on the real broker and DB."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.helpers import bearer, eventually, prepare_topics, read_topic, running, settings_from
from tests.service.test_tickets import inbound, publish
from ticketstream.auth import Role
from ticketstream.contracts import topics
from ticketstream_tickets.app import create_app
from ticketstream_tickets.settings import Settings

CUSTOMER = "kim@example.com"


@pytest.fixture
def settings(infra_env) -> Settings:
    return settings_from(infra_env, Settings)


async def _ticket(client, settings, ref: str = "TKT-0001"):
    response = await client.get(f"/v1/tickets/{ref}", headers=bearer(settings))
    return response.json() if response.status_code == 200 else None


async def patch(client, settings, ref: str, version: int, **changes):
    return await client.patch(
        f"/v1/tickets/{ref}", json=changes, headers={**bearer(settings), "If-Match": f'"{version}"'}
    )


async def test_the_reactive_flow_from_email_to_closed(settings):
    await prepare_topics(settings)
    agent = bearer(settings, sub="alice", name="Alice Agent", email="alice@help.example")
    customer = bearer(settings, Role.CUSTOMER, sub="kim", email=CUSTOMER)
    first = inbound(sender=CUSTOMER, subject="Export fails")
    async with running(create_app(settings)) as client:
        await publish(settings, first)
        ticket = await eventually(lambda: _ticket(client, settings))
        assert ticket["assigned_team"] == "support"

        triaged = await patch(
            client,
            settings,
            "TKT-0001",
            ticket["version"],
            tags=["Export", "csv"],
            category="billing",
            priority="HIGH",
        )
        assert triaged.status_code == 200, triaged.text
        assert triaged.headers["etag"] == '"2"'
        reply = await client.post(
            "/v1/tickets/TKT-0001/replies", json={"body": "We are on it."}, headers=agent
        )
        assert reply.status_code == 201, reply.text
        after_reply = reply.json()["ticket"]
        outbound = reply.json()["interaction"]
        note = await client.post(
            "/v1/tickets/TKT-0001/notes",
            json={"body": "Secret: the export job leaks memory, @bob.smith please check"},
            headers=agent,
        )
        resolved = await patch(
            client,
            settings,
            "TKT-0001",
            note.json()["ticket"]["version"],
            status="RESOLVED",
            resolution_notes="Export job restarted",
        )
        portal_view = await client.get("/v1/portal/tickets/TKT-0001", headers=customer)
        portal_reply = await client.post(
            "/v1/portal/tickets/TKT-0001/replies", json={"body": "Still broken for me"}, headers=customer
        )
        reopened = await _ticket(client, settings)
        closed = await patch(client, settings, "TKT-0001", reopened["version"], status="CLOSED")
        activity = (await client.get("/v1/tickets/TKT-0001/activity", headers=agent)).json()["items"]
        portal_after = await client.get("/v1/portal/tickets/TKT-0001", headers=customer)

    assert triaged.json()["tags"] == ["csv", "export"] and triaged.json()["priority"] == "HIGH"
    assert after_reply["status"] == "IN_PROGRESS" and after_reply["first_response_at"] is not None
    assert outbound["type"] == "EMAIL_OUTBOUND" and outbound["recipients"] == [CUSTOMER]
    assert outbound["subject"] == "[TKT-0001] Export fails"
    assert outbound["in_reply_to"] == first.message_id and outbound["references"] == [first.message_id]
    assert note.json()["interaction"]["mentions"] == ["bob.smith"]
    assert note.json()["interaction"]["customer_visible"] is False
    assert resolved.json()["status"] == "RESOLVED" and resolved.json()["resolved_at"] is not None
    assert resolved.json()["resolution_notes"] == "Export job restarted"
    assert portal_reply.status_code == 201 and portal_reply.json()["type"] == "PORTAL_MESSAGE"
    assert reopened["status"] == "OPEN" and reopened["resolved_at"] is None
    assert closed.json()["status"] == "CLOSED" and closed.json()["closed_at"] is not None

    for view in (portal_view.json(), portal_after.json()):
        assert "Secret" not in json.dumps(view), "an internal note reached the customer portal"
    assert [m["type"] for m in portal_after.json()["messages"]] == [
        "EMAIL_INBOUND",
        "EMAIL_OUTBOUND",
        "PORTAL_MESSAGE",
    ]
    assert portal_after.json()["messages"][1]["from_support"] is True

    expected = [
        "ticket.created",
        "ticket.updated",
        "ticket.interaction_added",
        "ticket.status_changed",
        "ticket.interaction_added",
        "ticket.status_changed",
        "ticket.interaction_added",
        "ticket.status_changed",
        "ticket.status_changed",
    ]
    assert [entry["action"] for entry in activity] == expected
    assert [entry["sequence"] for entry in activity] == list(range(1, 10))
    assert activity[1]["actor"] == "alice"
    assert {"field": "priority", "before": "MEDIUM", "after": "HIGH"} in activity[1]["changes"]
    events = await read_topic(
        settings.kafka_bootstrap, settings.topic(topics.TICKETS), until=lambda r: len(r) >= 9
    )
    assert [r.headers["ce_type"] for r in events] == expected, "published in order on one partition"
    assert [json.loads(r.value)["sequence"] for r in events] == list(range(1, 10))
    statuses = [
        (json.loads(r.value)["from_status"], json.loads(r.value)["to_status"])
        for r in events
        if r.headers["ce_type"] == "ticket.status_changed"
    ]
    assert statuses == [
        ("OPEN", "IN_PROGRESS"),
        ("IN_PROGRESS", "RESOLVED"),
        ("RESOLVED", "OPEN"),
        ("OPEN", "CLOSED"),
    ]


async def test_concurrent_updates_of_one_version_one_wins_one_gets_412(settings):
    await prepare_topics(settings)
    async with running(create_app(settings)) as client:
        created = await client.post("/v1/tickets", json={"title": "Race"}, headers=bearer(settings))
        version = created.json()["version"]
        first, second = await asyncio.gather(
            patch(client, settings, "TKT-0001", version, priority="HIGH"),
            patch(client, settings, "TKT-0001", version, priority="LOW"),
        )
        missing = await client.patch(
            "/v1/tickets/TKT-0001", json={"priority": "LOW"}, headers=bearer(settings)
        )
        final = await _ticket(client, settings)
    assert sorted([first.status_code, second.status_code]) == [200, 412]
    loser = first if first.status_code == 412 else second
    assert loser.json()["error"]["details"] == {"current_version": 2}
    winner = first if first.status_code == 200 else second
    assert final["priority"] == winner.json()["priority"] and final["version"] == 2
    assert missing.status_code == 428


async def test_transitions_that_are_not_allowed_are_refused_with_the_allowed_list(settings):
    await prepare_topics(settings)
    async with running(create_app(settings)) as client:
        created = await client.post("/v1/tickets", json={"title": "Done"}, headers=bearer(settings))
        closed = await patch(client, settings, "TKT-0001", created.json()["version"], status="CLOSED")
        reopen = await patch(client, settings, "TKT-0001", closed.json()["version"], status="OPEN")
        reply = await client.post(
            "/v1/tickets/TKT-0001/replies", json={"body": "hi"}, headers=bearer(settings)
        )
        empty_note = await client.post(
            "/v1/tickets/TKT-0001/notes", json={"body": ""}, headers=bearer(settings)
        )
    assert closed.status_code == 200
    assert reopen.status_code == 422
    assert reopen.json()["error"]["code"] == "transition_not_allowed"
    assert reopen.json()["error"]["details"] == {"from": "CLOSED", "to": "OPEN", "allowed": []}
    assert reply.status_code == 422
    assert empty_note.status_code == 422


async def test_a_reply_email_to_a_closed_ticket_opens_a_linked_follow_up(settings):
    await prepare_topics(settings)
    original = inbound(sender=CUSTOMER, subject="VPN down")
    async with running(create_app(settings)) as client:
        await publish(settings, original)
        ticket = await eventually(lambda: _ticket(client, settings))
        await patch(client, settings, "TKT-0001", ticket["version"], status="CLOSED")
        await publish(settings, inbound(sender=CUSTOMER, subject="Re: VPN down", thread=original.message_id))
        follow_up = await eventually(lambda: _ticket(client, settings, "TKT-0002"))
        closed = await _ticket(client, settings)
    assert follow_up["follow_up_of"] == "TKT-0001"
    assert follow_up["status"] == "OPEN" and follow_up["email_thread_id"] == original.message_id
    assert closed["status"] == "CLOSED" and len(closed["interactions"]) == 1


async def test_who_sees_what(settings):
    await prepare_topics(settings)
    async with running(create_app(settings)) as client:
        ours = await client.post(
            "/v1/tickets", json={"title": "Ours", "requester": {"email": CUSTOMER}}, headers=bearer(settings)
        )
        theirs = await client.post(
            "/v1/tickets",
            json={
                "title": "Billing team's",
                "assigned_team": "billing",
                "requester": {"email": "zed@example.com"},
            },
            headers=bearer(settings),
        )
        ref_theirs = theirs.json()["ref"]
        support_agent = bearer(settings, sub="alice", teams=["support"])
        billing_agent = bearer(settings, sub="bo", teams=["billing"])
        manager = bearer(settings, Role.MANAGER, sub="mia", teams=[])
        kim = bearer(settings, Role.CUSTOMER, sub="kim", email=CUSTOMER)
        other_customer = bearer(settings, Role.CUSTOMER, sub="zed", email="zed@example.com")

        async def refs(headers, path="/v1/tickets"):
            return sorted(t["ref"] for t in (await client.get(path, headers=headers)).json()["items"])

        seen = {
            "support": await refs(support_agent),
            "billing": await refs(billing_agent),
            "manager": await refs(manager),
            "kim": await refs(kim, "/v1/portal/tickets"),
        }
        hidden = await client.get(f"/v1/tickets/{ref_theirs}", headers=support_agent)
        hidden_patch = await client.patch(
            f"/v1/tickets/{ref_theirs}",
            json={"priority": "LOW"},
            headers={**support_agent, "If-Match": '"1"'},
        )
        customer_other = await client.get(f"/v1/portal/tickets/{ref_theirs}", headers=kim)
        customer_staff_route = await client.get(f"/v1/tickets/{ours.json()['ref']}", headers=kim)
        staff_on_portal = await client.get("/v1/portal/tickets", headers=support_agent)
        zed_reply_on_kims = await client.post(
            f"/v1/portal/tickets/{ours.json()['ref']}/replies", json={"body": "hi"}, headers=other_customer
        )
    assert seen == {
        "support": ["TKT-0001"],
        "billing": ["TKT-0002"],
        "manager": ["TKT-0001", "TKT-0002"],
        "kim": ["TKT-0001"],
    }
    for response in (
        hidden,
        hidden_patch,
        customer_other,
        customer_staff_route,
        staff_on_portal,
        zed_reply_on_kims,
    ):
        assert response.status_code == 404, response.text
