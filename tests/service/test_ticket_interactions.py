"""Logged contacts (calls, meetings, SMS, notes) and attachments by reference on interactions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers import bearer, eventually, prepare_topics, running, settings_from
from tests.service.test_tickets import inbound, publish
from ticketstream.auth import Role
from ticketstream.contracts.events import AttachmentRef
from ticketstream_tickets.app import create_app
from ticketstream_tickets.settings import Settings


@pytest.fixture
def settings(infra_env) -> Settings:
    return settings_from(infra_env, Settings)


SCREENSHOT = {"filename": "error.png", "content_type": "image/png", "size": 48213, "storage_id": "att-1"}


async def test_logged_contacts_keep_their_time_and_only_sms_reaches_the_portal(settings):
    await prepare_topics(settings)
    agent = bearer(settings, sub="alice", name="Alice Agent")
    customer = bearer(settings, Role.CUSTOMER, sub="kim", email="kim@example.com")
    async with running(create_app(settings)) as client:
        ref = (
            await client.post(
                "/v1/tickets",
                json={"title": "Printer", "requester": {"email": "kim@example.com"}},
                headers=agent,
            )
        ).json()["ref"]
        earlier = datetime.now(UTC) - timedelta(hours=2)
        call = await client.post(
            f"/v1/tickets/{ref}/logs",
            json={
                "type": "PHONE_CALL",
                "body": "Walked Kim through the driver reinstall",
                "occurred_at": earlier.isoformat(),
                "duration_minutes": 12,
            },
            headers=agent,
        )
        sms = await client.post(
            f"/v1/tickets/{ref}/logs",
            json={"type": "SMS", "body": "Technician arrives at 3pm"},
            headers=agent,
        )
        meeting = await client.post(
            f"/v1/tickets/{ref}/logs", json={"type": "MEETING", "body": "On site"}, headers=agent
        )
        future = await client.post(
            f"/v1/tickets/{ref}/logs",
            json={
                "type": "NOTE",
                "body": "x",
                "occurred_at": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
            },
            headers=agent,
        )
        not_loggable = await client.post(
            f"/v1/tickets/{ref}/logs", json={"type": "SYSTEM", "body": "x"}, headers=agent
        )
        staff_view = (await client.get(f"/v1/tickets/{ref}/interactions", headers=agent)).json()["items"]
        portal = (await client.get(f"/v1/portal/tickets/{ref}", headers=customer)).json()
        activity = (await client.get(f"/v1/tickets/{ref}/activity", headers=agent)).json()["items"]
    assert call.status_code == 201 and sms.status_code == 201 and meeting.status_code == 201
    logged = call.json()["interaction"]
    assert logged["type"] == "PHONE_CALL" and logged["customer_visible"] is False
    assert logged["duration_minutes"] == 12 and logged["author_id"] == "alice"
    assert datetime.fromisoformat(logged["created_at"]) == earlier
    assert [item["type"] for item in staff_view] == ["PHONE_CALL", "SMS", "MEETING"], (
        "ordered by when they happened"
    )
    assert [(m["type"], m["from_support"], m["author_name"]) for m in portal["messages"]] == [
        ("SMS", True, "Alice Agent")
    ]
    assert future.status_code == 422 and not_loggable.status_code == 422
    assert call.json()["ticket"]["first_response_at"] is None, "a logged call is not a public reply"
    assert sum(entry["action"] == "ticket.interaction_added" for entry in activity) == 3


async def test_attachments_travel_by_reference_and_are_checked(settings):
    await prepare_topics(settings)
    agent = bearer(settings)
    customer = bearer(settings, Role.CUSTOMER, sub="kim", email="kim@example.com")
    async with running(create_app(settings)) as client:
        email = inbound(sender="kim@example.com", subject="See the screenshot").model_copy(
            update={"attachments": [AttachmentRef(**SCREENSHOT)]}
        )
        await publish(settings, email)

        async def ticket():
            listed = (await client.get("/v1/tickets", headers=agent)).json()["items"]
            return listed[0] if listed else None

        ref = (await eventually(ticket))["ref"]
        reply = await client.post(
            f"/v1/tickets/{ref}/replies",
            json={
                "body": "Here is the fixed driver",
                "attachments": [
                    {
                        **SCREENSHOT,
                        "filename": "driver.zip",
                        "content_type": "application/zip",
                        "storage_id": "att-2",
                    }
                ],
            },
            headers=agent,
        )
        note = await client.post(
            f"/v1/tickets/{ref}/notes",
            json={
                "body": "Internal log",
                "attachments": [
                    {
                        **SCREENSHOT,
                        "filename": "server.log",
                        "content_type": "text/plain",
                        "storage_id": "att-3",
                    }
                ],
            },
            headers=agent,
        )
        traversal = await client.post(
            f"/v1/tickets/{ref}/notes",
            json={"body": "x", "attachments": [{**SCREENSHOT, "filename": "../../etc/passwd"}]},
            headers=agent,
        )
        oversize = await client.post(
            f"/v1/tickets/{ref}/notes",
            json={"body": "x", "attachments": [{**SCREENSHOT, "size": 10**10}]},
            headers=agent,
        )
        staff_view = (await client.get(f"/v1/tickets/{ref}/interactions", headers=agent)).json()["items"]
        portal = (await client.get(f"/v1/portal/tickets/{ref}", headers=customer)).json()
    assert reply.status_code == 201 and note.status_code == 201
    assert [[a["filename"] for a in item["attachments"]] for item in staff_view] == [
        ["error.png"],
        ["driver.zip"],
        ["server.log"],
    ]
    assert staff_view[0]["attachments"][0]["storage_id"] == "att-1"
    assert [[a["filename"] for a in message["attachments"]] for message in portal["messages"]] == [
        ["error.png"],
        ["driver.zip"],
    ]
    assert "storage_id" not in portal["messages"][0]["attachments"][0]
    assert traversal.status_code == 422 and oversize.status_code == 422
