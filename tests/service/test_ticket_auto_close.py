"""A ticket left waiting on a silent customer is closed when the sla service says the waiting period
after the check-in ran out, on the real broker and database."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers import (
    bearer,
    eventually,
    prepare_topics,
    publish_events,
    read_topic,
    running,
    settings_from,
)
from ticketstream.auth import Role
from ticketstream.contracts import topics
from ticketstream.contracts.events import SlaBreached, SlaTarget, SlaWaitingAutoCloseDue
from ticketstream_tickets.app import create_app
from ticketstream_tickets.settings import Settings


@pytest.fixture
def settings(infra_env) -> Settings:
    return settings_from(infra_env, Settings)


def unique_email() -> str:
    return f"kim-{uuid.uuid4().hex[:8]}@example.com"


async def create(client, agent, *, title: str, requester: str) -> dict:
    response = await client.post(
        "/v1/tickets", json={"title": title, "requester": {"email": requester}}, headers=agent
    )
    assert response.status_code == 201, response.text
    return response.json()


async def move(client, agent, ticket: dict, status: str) -> dict:
    response = await client.patch(
        f"/v1/tickets/{ticket['ref']}",
        json={"status": status},
        headers={**agent, "If-Match": f'"{ticket["version"]}"'},
    )
    assert response.status_code == 200, response.text
    return response.json()


def auto_close_due(ticket: dict, *, waiting_since: datetime) -> SlaWaitingAutoCloseDue:
    return SlaWaitingAutoCloseDue(
        ticket_id=ticket["id"], ref=ticket["ref"], waiting_since=waiting_since, occurred_at=datetime.now(UTC)
    )


def breach_of(ticket: dict) -> SlaBreached:
    """Published after the events under test with the same key (so the same partition): once its
    sla_breach_at shows, everything before it on that ticket has been consumed."""
    now = datetime.now(UTC)
    return SlaBreached(
        ticket_id=ticket["id"],
        ref=ticket["ref"],
        clock_id=f"clock-{uuid.uuid4().hex[:8]}",
        target=SlaTarget.RESOLUTION,
        policy_id="standard",
        priority=ticket["priority"],
        due_at=now,
        occurred_at=now,
    )


async def after_barrier(client, agent, ticket: dict) -> dict:
    async def stamped():
        current = (await client.get(f"/v1/tickets/{ticket['ref']}", headers=agent)).json()
        return current if current["sla_breach_at"] else None

    return await eventually(stamped)


def published_for(records, ticket: dict) -> list[dict]:
    return [json.loads(record.value) for record in records if record.key == ticket["id"]]


async def test_a_waiting_ticket_is_closed_once_with_a_note_the_customer_does_not_see(settings):
    await prepare_topics(settings)
    agent = bearer(settings)
    requester = unique_email()
    customer = bearer(settings, Role.CUSTOMER, sub="kim", email=requester)
    async with running(create_app(settings)) as client:
        created = await create(client, agent, title="Printer offline", requester=requester)
        waiting = await move(client, agent, created, "WAITING_ON_CUSTOMER")
        waiting_since = datetime.now(UTC)
        due = auto_close_due(waiting, waiting_since=waiting_since)
        event_id = f"auto-close-{uuid.uuid4().hex[:8]}"
        await publish_events(
            settings, [due, due, breach_of(waiting)], event_ids=[event_id, event_id, str(uuid.uuid4())]
        )
        closed = await after_barrier(client, agent, waiting)
        activity = (await client.get(f"/v1/tickets/{closed['ref']}/activity", headers=agent)).json()["items"]
        portal = (await client.get(f"/v1/portal/tickets/{closed['ref']}", headers=customer)).json()
    records = await read_topic(
        settings.kafka_bootstrap,
        settings.topic(topics.TICKETS),
        until=lambda records: len(published_for(records, closed)) >= 5,
    )

    assert closed["status"] == "CLOSED" and closed["closed_at"] is not None
    assert closed["version"] == 5, (
        "created, waiting, closed, noted, breach stamped: the duplicate did nothing"
    )
    notes = [item for item in closed["interactions"] if item["type"] == "SYSTEM"]
    assert len(notes) == 1 and notes[0]["customer_visible"] is False
    assert notes[0]["body_text"] == (
        f"Closed automatically: the ticket was waiting on the customer since "
        f"{waiting_since:%Y-%m-%d %H:%M} UTC and the customer did not reply within the waiting period "
        "after the check-in."
    )
    assert [(entry["action"], entry["actor"]) for entry in activity[2:4]] == [
        ("ticket.status_changed", "sla"),
        ("ticket.interaction_added", "sla"),
    ]
    assert portal["status"] == "CLOSED" and portal["messages"] == []
    assert "Closed automatically" not in json.dumps(portal)
    events = published_for(records, closed)
    assert [(event["sequence"], event["actor"]) for event in events] == [
        (1, "alice"),
        (2, "alice"),
        (3, "sla"),
        (4, "sla"),
        (5, "sla"),
    ]
    assert (events[2]["from_status"], events[2]["to_status"]) == ("WAITING_ON_CUSTOMER", "CLOSED")
    assert events[3]["interaction"]["type"] == "SYSTEM" and events[3]["interaction"]["id"] == notes[0]["id"]


async def test_a_ticket_no_longer_in_that_waiting_period_is_left_as_it_is(settings):
    await prepare_topics(settings)
    agent = bearer(settings)
    async with running(create_app(settings)) as client:
        still_open = await create(client, agent, title="Never waited", requester=unique_email())
        back_again = await create(client, agent, title="Waited twice", requester=unique_email())
        for status in ("WAITING_ON_CUSTOMER", "OPEN", "WAITING_ON_CUSTOMER"):
            back_again = await move(client, agent, back_again, status)
        # An auto-close counted from a waiting period that ended an hour ago, before this one began.
        earlier_period = datetime.now(UTC) - timedelta(hours=1)
        await publish_events(
            settings,
            [
                auto_close_due(still_open, waiting_since=datetime.now(UTC)),
                breach_of(still_open),
                auto_close_due(back_again, waiting_since=earlier_period),
                breach_of(back_again),
            ],
        )
        untouched = await after_barrier(client, agent, still_open)
        rewaited = await after_barrier(client, agent, back_again)

    assert (untouched["status"], untouched["version"], untouched["closed_at"]) == ("OPEN", 2, None)
    assert (rewaited["status"], rewaited["version"], rewaited["closed_at"]) == (
        "WAITING_ON_CUSTOMER",
        5,
        None,
    )
    for ticket in (untouched, rewaited):
        assert [item for item in ticket["interactions"] if item["type"] == "SYSTEM"] == []
