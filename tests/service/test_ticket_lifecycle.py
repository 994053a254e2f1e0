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


async def test_escalate_merge_split_and_archive(settings):
    await prepare_topics(settings)
    agent = bearer(settings)
    async with running(create_app(settings)) as client:
        create = lambda title, email: client.post(  # noqa: E731
            "/v1/tickets", json={"title": title, "requester": {"email": email}}, headers=agent
        )
        first = (await create("Printer offline", "kim@example.com")).json()
        duplicate = (await create("Printer offline again", "lee@example.com")).json()
        escalated = await client.post(
            f"/v1/tickets/{first['ref']}/escalate", json={"reason": "VIP customer"}, headers=agent
        )
        to_manager = await client.post(
            f"/v1/tickets/{first['ref']}/escalate", json={"reason": "Still down", "level": 2}, headers=agent
        )
        beyond = await client.post(
            f"/v1/tickets/{first['ref']}/escalate", json={"reason": "x"}, headers=agent
        )
        await client.post(
            f"/v1/tickets/{duplicate['ref']}/notes", json={"body": "same printer"}, headers=agent
        )
        merged = await client.post(
            f"/v1/tickets/{duplicate['ref']}/merge", json={"into": first["ref"]}, headers=agent
        )
        into_self = await client.post(
            f"/v1/tickets/{first['ref']}/merge", json={"into": first["ref"]}, headers=agent
        )
        reply = await client.post(
            f"/v1/tickets/{first['ref']}/replies", json={"body": "Try this"}, headers=agent
        )
        split = await client.post(
            f"/v1/tickets/{first['ref']}/split",
            json={"interaction_id": reply.json()["interaction"]["id"], "title": "Toner question"},
            headers=agent,
        )
        not_archivable = await client.post(f"/v1/tickets/{first['ref']}/archive", headers=agent)
        archived = await client.post(f"/v1/tickets/{duplicate['ref']}/archive", headers=agent)
        kept = (await client.get(f"/v1/tickets/{first['ref']}", headers=agent)).json()
        listed = (await client.get("/v1/tickets", headers=agent)).json()["items"]
        listed_archived = (await client.get("/v1/tickets?archived=true", headers=agent)).json()["items"]

    assert escalated.json()["escalation_level"] == 1 and escalated.json()["priority"] == "URGENT"
    assert to_manager.json()["escalation_level"] == 2
    assert beyond.status_code == 422 and "highest tier" in beyond.json()["error"]["message"]
    merged_body = merged.json()
    assert (
        merged_body["merged"]["status"] == "CLOSED" and merged_body["merged"]["merged_into"] == first["ref"]
    )
    assert sorted(merged_body["into"]["contact_ids"]) == sorted(
        first["contact_ids"] + duplicate["contact_ids"]
    )
    assert into_self.status_code == 422
    new_ticket = split.json()["new_ticket"]
    assert (
        split.status_code == 201
        and new_ticket["split_from"] == first["ref"]
        and new_ticket["title"] == "Toner question"
    )
    assert not_archivable.status_code == 422
    assert archived.json()["archived"] is True
    kinds = [(i["type"], i["body_text"]) for i in kept["interactions"]]
    assert ("INTERNAL_NOTE", "same printer") in kinds, "the duplicate's interactions moved to the kept ticket"
    assert any(kind == "SYSTEM" and duplicate["ref"] in text for kind, text in kinds)
    assert all(i["type"] != "EMAIL_OUTBOUND" for i in kept["interactions"]), "the split reply left"
    assert duplicate["ref"] not in [t["ref"] for t in listed]
    assert [t["ref"] for t in listed_archived] == [duplicate["ref"]]
    events = await read_topic(
        settings.kafka_bootstrap,
        settings.topic(topics.TICKETS),
        until=lambda r: (
            {"ticket.escalated", "ticket.merged", "ticket.split", "ticket.archived"}
            <= {x.headers["ce_type"] for x in r}
        ),
    )
    escalations = [json.loads(r.value) for r in events if r.headers["ce_type"] == "ticket.escalated"]
    assert [(e["from_level"], e["to_level"], e["reason"]) for e in escalations] == [
        (0, 1, "VIP customer"),
        (1, 2, "Still down"),
    ]
    assert escalations[0]["previous_priority"] == "MEDIUM" and escalations[0]["seconds_since_created"] >= 0


async def test_list_filters_and_search(settings):
    await prepare_topics(settings)
    agent = bearer(settings, sub="alice")
    async with running(create_app(settings)) as client:
        specs = [
            {
                "title": "Invoice PDF broken",
                "priority": "HIGH",
                "type": "BUG",
                "tags": ["billing"],
                "category": "billing",
            },
            {"title": "Add dark mode", "priority": "LOW", "type": "FEATURE"},
            {"title": "Cannot login", "priority": "URGENT", "description": "invoice page loops"},
        ]
        refs = [(await client.post("/v1/tickets", json=spec, headers=agent)).json()["ref"] for spec in specs]
        mine = await client.get(f"/v1/tickets/{refs[1]}", headers=agent)
        await patch(
            client, settings, refs[1], mine.json()["version"], assignee_ids=["alice"], assignment_reason="VIP"
        )
        reassigned = (await client.get(f"/v1/tickets/{refs[1]}/activity", headers=agent)).json()["items"][-1]
        manager = bearer(settings, Role.MANAGER, sub="mia")
        log = (await client.get("/v1/activity?action=ticket.assigned", headers=manager)).json()["items"]
        by_alice = (await client.get("/v1/activity?actor=alice&limit=2", headers=manager)).json()["items"]
        future = (await client.get("/v1/activity?from=2999-01-01T00:00:00Z", headers=manager)).json()["items"]

        async def refs_of(query: str) -> list[str]:
            response = await client.get(f"/v1/tickets?{query}", headers=agent)
            assert response.status_code == 200, response.text
            return [t["ref"] for t in response.json()["items"]]

        results = {
            "type": await refs_of("type=BUG"),
            "tag": await refs_of("tag=Billing"),
            "category": await refs_of("category=billing"),
            "me": await refs_of("assignee=me"),
            "search": await refs_of("q=invoice"),
            "search-ref": await refs_of(f"q={refs[1].lower()}"),
            "source": await refs_of("source=API"),
            "created": await refs_of("created_to=2000-01-01T00:00:00Z"),
            "combined": await refs_of("q=invoice&priority=URGENT"),
            "words": await refs_of("q=Invoice%20loops"),
            "word-missing": await refs_of("q=invoice%20printer"),
            "bare-number": await refs_of(f"q={int(refs[1].split('-')[1])}"),
            "oldest": await refs_of("sort=oldest"),
        }
        bad = await client.get("/v1/tickets?sla=late", headers=agent)
    assert results == {
        "type": [refs[0]],
        "tag": [refs[0]],
        "category": [refs[0]],
        "me": [refs[1]],
        "search": [refs[2], refs[0]],
        "search-ref": [refs[1]],
        "source": [refs[2], refs[1], refs[0]],
        "created": [],
        "combined": [refs[2]],
        "words": [refs[2]],
        "word-missing": [],
        "bare-number": [refs[1]],
        "oldest": refs,
    }
    assert bad.status_code == 422
    assert reassigned["action"] == "ticket.assigned" and reassigned["actor"] == "alice"
    assert {"field": "assignment_reason", "before": None, "after": "VIP"} in reassigned["changes"]
    assert [(entry["ref"], entry["action"]) for entry in log] == [(refs[1], "ticket.assigned")]
    assert len(by_alice) == 2 and by_alice[0]["at"] >= by_alice[1]["at"], "newest first"
    assert future == []


async def test_magic_links_let_the_requester_follow_and_answer_one_ticket(settings):
    await prepare_topics(settings)
    agent = bearer(settings)
    async with running(create_app(settings)) as client:
        mine = (
            await client.post(
                "/v1/tickets", json={"title": "Mine", "requester": {"email": CUSTOMER}}, headers=agent
            )
        ).json()
        resolved = await patch(client, settings, mine["ref"], 1, status="RESOLVED")
        await client.post(f"/v1/tickets/{mine['ref']}/notes", json={"body": "secret note"}, headers=agent)
        link = (await client.post(f"/v1/tickets/{mine['ref']}/magic-link", headers=agent)).json()
        path = link["url"].split("://", 1)[1].split("/", 1)[1]
        view = await client.get(f"/{path}")
        answer = await client.post(f"/{path}/replies", json={"body": "It broke again"})
        reopened = (await client.get(f"/v1/tickets/{mine['ref']}", headers=agent)).json()
        tampered = await client.get(f"/{path[:-3]}abc")
        as_login = await client.get(
            "/v1/portal/tickets", headers={"Authorization": f"Bearer {link['token']}"}
        )
    assert resolved.json()["status"] == "RESOLVED"
    assert view.status_code == 200 and view.json()["ref"] == mine["ref"]
    assert "secret note" not in view.text
    assert answer.status_code == 201 and answer.json()["type"] == "PORTAL_MESSAGE"
    assert reopened["status"] == "OPEN"
    assert tampered.status_code == 404
    assert as_login.status_code == 401, "a magic link is not a login token"


async def test_an_agents_queue_pages_through_own_and_team_tickets_without_gaps_or_repeats(settings):
    await prepare_topics(settings)
    admin = bearer(settings, Role.ADMIN, sub="root")
    agent = bearer(settings, sub="alice", teams=["support"])
    async with running(create_app(settings)) as client:
        visible: list[str] = []
        for index in range(14):
            team = ["support", "billing"][index % 2]
            assignees = ["alice"] if index % 3 == 0 else []
            created = await client.post(
                "/v1/tickets", json={"title": f"T{index}", "assigned_team": team}, headers=admin
            )
            ref = created.json()["ref"]
            if assignees:
                assigned = await client.patch(
                    f"/v1/tickets/{ref}",
                    json={"assignee_ids": assignees},
                    headers={**admin, "If-Match": '"1"'},
                )
                assert assigned.status_code == 200
            if team == "support" or assignees:
                visible.append(ref)

        async def walk(order: str) -> list[str]:
            seen: list[str] = []
            cursor = ""
            while True:
                page = (await client.get(f"/v1/tickets?limit=3&sort={order}{cursor}", headers=agent)).json()
                seen += [item["ref"] for item in page["items"]]
                if page["next_cursor"] is None:
                    return seen
                cursor = f"&cursor={page['next_cursor']}"

        newest, oldest = await walk("newest"), await walk("oldest")
    assert newest == list(reversed(visible))
    assert oldest == visible
