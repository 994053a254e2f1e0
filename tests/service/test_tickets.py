"""Tickets against the real broker and database: inbound events become tickets, exactly once."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from tests.helpers import bearer, eventually, prepare_topics, read_topic, running, settings_from
from ticketstream.auth import Role
from ticketstream.broker import EventProducer
from ticketstream.contracts import encode_event, topics
from ticketstream.contracts.events import InboundChannel, InboundMessageReceived
from ticketstream.contracts.models import Person, Priority, Source
from ticketstream_tickets.app import create_app
from ticketstream_tickets.settings import Settings


@pytest.fixture
def settings(infra_env) -> Settings:
    return settings_from(infra_env, Settings)


def inbound(
    *, sender: str, subject: str, message_id: str | None = None, thread: str | None = None
) -> InboundMessageReceived:
    message_id = message_id or f"<{uuid.uuid4().hex}@example.com>"
    return InboundMessageReceived(
        inbound_id=str(uuid.uuid4()),
        channel=InboundChannel.WEBHOOK,
        message_id=message_id,
        in_reply_to=thread,
        references=[thread] if thread else [],
        email_thread_id=thread or message_id,
        sender=Person(email=sender, name="Kim Example"),
        recipients=["support@ticketstream.local"],
        subject=subject,
        text_body=f"Body of {subject}",
        received_at=datetime.now(UTC),
    )


async def publish(
    settings: Settings, *events: InboundMessageReceived, event_ids: list[str] | None = None
) -> None:
    producer = EventProducer(settings)
    await producer.start()
    try:
        messages = [
            encode_event(
                event,
                service="ingest",
                key=event.email_thread_id,
                event_id=(event_ids or [None] * len(events))[i],
            )
            for i, event in enumerate(events)
        ]
        assert await producer.publish_batch(messages) == [None] * len(messages)
    finally:
        await producer.stop()


async def list_tickets(client, settings) -> list[dict]:
    response = await client.get("/v1/tickets?limit=200", headers=bearer(settings))
    assert response.status_code == 200
    return response.json()["items"]


async def test_inbound_email_becomes_one_ticket_even_when_delivered_twice(settings):
    await prepare_topics(settings)
    first = inbound(sender="kim@example.com", subject="Cannot log in")
    second = inbound(sender="lou@example.com", subject="Invoice missing")
    async with running(create_app(settings)) as client:
        # The same event id twice (a redelivery) and a second email.
        await publish(settings, first, first, second, event_ids=["evt-1", "evt-1", "evt-2"])
        tickets = await eventually(lambda: _at_least(client, settings, 2))
        detail = await client.get(f"/v1/tickets/{tickets[-1]['ref']}", headers=bearer(settings))
        metrics = await eventually(lambda: _metrics_with(client, "ticketstream_consumer_lag_records{"))
        asyncapi = (await client.get("/asyncapi.json")).json()
    assert [t["ref"] for t in tickets] == ["TKT-0002", "TKT-0001"]
    assert {t["title"] for t in tickets} == {"Cannot log in", "Invoice missing"}
    oldest = tickets[-1]
    assert oldest["status"] == "OPEN" and oldest["priority"] == "MEDIUM" and oldest["source"] == "EMAIL"
    assert oldest["requester"]["email"] in {"kim@example.com", "lou@example.com"}
    assert oldest["customer_id"] and oldest["primary_contact_id"] == oldest["customer_id"]
    handled = [
        line
        for line in metrics.splitlines()
        if line.startswith("faststream_received_processed_messages_duration_seconds_count")
    ]
    assert handled and float(handled[0].rsplit(" ", 1)[1]) == 3.0, "handler latency of 3 deliveries"
    assert f'topic="{settings.topic(topics.INBOUND)}"' in metrics
    assert "TicketCreated" in asyncapi["components"]["schemas"]
    interactions = detail.json()["interactions"]
    assert [i["type"] for i in interactions] == ["EMAIL_INBOUND"]
    assert interactions[0]["customer_visible"] is True

    created = await read_topic(
        settings.kafka_bootstrap, settings.topic(topics.TICKETS), until=lambda r: len(r) >= 2
    )
    assert sorted(r.headers["ce_type"] for r in created) == ["ticket.created", "ticket.created"]
    assert sorted(r.headers["ce_subject"] for r in created) == ["TKT-0001", "TKT-0002"]
    payload = json.loads(created[0].value)
    assert payload["sequence"] == 1 and payload["ticket"]["ref"] == payload["ref"]
    assert created[0].key == payload["ticket_id"]


async def _metrics_with(client, text: str) -> str | None:
    """Consumer lag is sampled every few seconds; wait for the first sample."""
    metrics = (await client.get("/metrics")).text
    return metrics if text in metrics else None


async def _at_least(client, settings, count: int) -> list[dict] | None:
    tickets = await list_tickets(client, settings)
    return tickets if len(tickets) >= count else None


async def test_reply_in_the_same_thread_is_added_to_the_existing_ticket(settings):
    await prepare_topics(settings)
    original = inbound(sender="kim@example.com", subject="Printer jam")
    reply = inbound(sender="kim@example.com", subject="Re: Printer jam", thread=original.message_id)
    async with running(create_app(settings)) as client:
        await publish(settings, original)
        await eventually(lambda: _at_least(client, settings, 1))
        await publish(settings, reply)

        async def two_interactions():
            detail = (await client.get("/v1/tickets/TKT-0001", headers=bearer(settings))).json()
            return detail if len(detail["interactions"]) == 2 else None

        detail = await eventually(two_interactions)
        tickets = await list_tickets(client, settings)
    assert len(tickets) == 1
    assert detail["version"] == 2
    assert [i["message_id"] for i in detail["interactions"]] == [original.message_id, reply.message_id]
    events = await read_topic(
        settings.kafka_bootstrap, settings.topic(topics.TICKETS), until=lambda r: len(r) >= 2
    )
    assert [r.headers["ce_type"] for r in events] == ["ticket.created", "ticket.interaction_added"]


async def test_api_creates_tickets_and_refuses_bad_requests_and_callers(settings):
    await prepare_topics(settings)
    async with running(create_app(settings)) as client:
        created = await client.post(
            "/v1/tickets",
            json={"title": "Export fails", "priority": "HIGH", "requester": {"email": "Pat@Example.com"}},
            headers=bearer(settings),
        )
        missing_title = await client.post("/v1/tickets", json={"priority": "HIGH"}, headers=bearer(settings))
        bad_priority = await client.post(
            "/v1/tickets", json={"title": "x", "priority": "ASAP"}, headers=bearer(settings)
        )
        no_token = await client.get("/v1/tickets")
        bad_token = await client.get("/v1/tickets", headers={"Authorization": "Bearer not-a-jwt"})
        customer = await client.get(
            "/v1/tickets", headers=bearer(settings, Role.CUSTOMER, email="pat@example.com")
        )
        unknown = await client.get("/v1/tickets/TKT-9999", headers=bearer(settings))
        by_id = await client.get(f"/v1/tickets/{created.json()['id']}", headers=bearer(settings))
    assert created.status_code == 201
    assert created.json()["ref"] == "TKT-0001"
    assert created.json()["source"] == "API" and created.json()["priority"] == "HIGH"
    assert created.json()["requester"]["email"] == "pat@example.com"
    assert missing_title.status_code == 422
    assert missing_title.json()["error"]["details"][0]["location"] == ["body", "title"]
    assert bad_priority.status_code == 422
    assert no_token.status_code == 401 and bad_token.status_code == 401
    assert no_token.headers["www-authenticate"] == "Bearer"
    assert customer.status_code == 404
    assert unknown.status_code == 404
    assert by_id.json()["ref"] == "TKT-0001"


async def test_list_pages_with_a_cursor_and_filters(settings):
    await prepare_topics(settings)
    async with running(create_app(settings)) as client:
        for index, priority in enumerate(["LOW", "HIGH", "LOW", "URGENT", "LOW"]):
            response = await client.post(
                "/v1/tickets", json={"title": f"t{index}", "priority": priority}, headers=bearer(settings)
            )
            assert response.status_code == 201
        first = (await client.get("/v1/tickets?limit=2", headers=bearer(settings))).json()
        second = (
            await client.get(f"/v1/tickets?limit=2&cursor={first['next_cursor']}", headers=bearer(settings))
        ).json()
        third = (
            await client.get(f"/v1/tickets?limit=2&cursor={second['next_cursor']}", headers=bearer(settings))
        ).json()
        low = (await client.get("/v1/tickets?priority=LOW", headers=bearer(settings))).json()
    assert [t["ref"] for t in first["items"]] == ["TKT-0005", "TKT-0004"]
    assert [t["ref"] for t in second["items"]] == ["TKT-0003", "TKT-0002"]
    assert [t["ref"] for t in third["items"]] == ["TKT-0001"] and third["next_cursor"] is None
    assert [t["ref"] for t in low["items"]] == ["TKT-0005", "TKT-0003", "TKT-0001"]


async def test_sla_events_stamp_due_date_and_first_breach_once(settings):
    from datetime import timedelta

    from tests.helpers import publish_events
    from ticketstream.contracts.events import SlaBreached, SlaClockStarted, SlaTarget

    await prepare_topics(settings)
    async with running(create_app(settings)) as client:
        created = (await client.post("/v1/tickets", json={"title": "Timed"}, headers=bearer(settings))).json()
        now = datetime.now(UTC)
        common = {"ticket_id": created["id"], "ref": created["ref"], "policy_id": "p", "priority": "MEDIUM"}
        first_due, resolution_due = now + timedelta(hours=8), now + timedelta(hours=48)
        breach = SlaBreached(
            **common, clock_id="c1", target=SlaTarget.FIRST_RESPONSE, due_at=first_due, occurred_at=now
        )
        await publish_events(
            settings,
            [
                SlaClockStarted(
                    **common,
                    clock_id="c1",
                    target=SlaTarget.FIRST_RESPONSE,
                    due_at=first_due,
                    occurred_at=now,
                    target_seconds=8 * 3600,
                ),
                SlaClockStarted(
                    **common,
                    clock_id="c2",
                    target=SlaTarget.RESOLUTION,
                    due_at=resolution_due,
                    occurred_at=now,
                    target_seconds=48 * 3600,
                ),
                breach,
                breach,
            ],
            event_ids=["s1", "s2", "s3", "s3"],
        )

        async def stamped():
            ticket = (await client.get(f"/v1/tickets/{created['ref']}", headers=bearer(settings))).json()
            return ticket if ticket["sla_breach_at"] else None

        ticket = await eventually(stamped)
    assert datetime.fromisoformat(ticket["due_date"]) == resolution_due.replace(
        microsecond=resolution_due.microsecond // 1000 * 1000
    )
    assert ticket["sla_breach_at"] is not None
    assert ticket["version"] == 4, (
        "created, first-response due, resolution due, breach: the duplicate changed nothing"
    )


async def test_tickets_stored_before_search_terms_existed_become_searchable(settings):
    from ticketstream.db import create_mongo_client
    from ticketstream_tickets import domain
    from ticketstream_tickets.store import COUNTERS, TICKET_REF_COUNTER, TICKETS, ticket_document

    await prepare_topics(settings)
    request = domain.NewTicket(
        title="Legacy export crash", description="", source=Source.API, requester=None, priority=Priority.LOW
    )
    old = ticket_document(
        domain.open_ticket(
            request, ticket_id=str(uuid.uuid4()), number=1, customer_id=None, now=datetime.now(UTC)
        )
    )
    del old["search_terms"]
    mongo = create_mongo_client(settings)
    try:
        database = mongo[settings.database_name]
        await database[TICKETS].insert_one(old)
        await database[COUNTERS].insert_one({"_id": TICKET_REF_COUNTER, "value": 1})
    finally:
        await mongo.close()
    manager = bearer(settings, Role.MANAGER, sub="mia")
    async with running(create_app(settings)) as client:

        async def found():
            listed = (await client.get("/v1/tickets?q=legacy", headers=manager)).json()["items"]
            return listed or None

        [ticket] = await eventually(found)
    assert ticket["ref"] == "TKT-0001" and "search_terms" not in ticket


async def test_a_retargeted_or_resumed_resolution_clock_moves_the_due_date(settings):
    from datetime import timedelta

    from tests.helpers import publish_events
    from ticketstream.contracts.events import SlaClockResumed, SlaClockRetargeted, SlaClockStarted, SlaTarget

    await prepare_topics(settings)
    agent = bearer(settings)
    async with running(create_app(settings)) as client:
        created = (await client.post("/v1/tickets", json={"title": "Moving target"}, headers=agent)).json()
        now = datetime.now(UTC).replace(microsecond=0)
        common = {
            "ticket_id": created["id"],
            "ref": created["ref"],
            "policy_id": "p",
            "priority": "MEDIUM",
            "clock_id": "c",
            "target": SlaTarget.RESOLUTION,
            "occurred_at": now,
        }
        started = SlaClockStarted(**common, due_at=now + timedelta(hours=48), target_seconds=48 * 3600)
        retargeted = SlaClockRetargeted(**common, due_at=now + timedelta(hours=4), target_seconds=4 * 3600)
        resumed = SlaClockResumed(**common, due_at=now + timedelta(hours=6))

        async def due_date_is(expected: datetime):
            ticket = (await client.get(f"/v1/tickets/{created['ref']}", headers=agent)).json()
            due = ticket["due_date"]
            return ticket if due and datetime.fromisoformat(due) == expected else None

        await publish_events(settings, [started, retargeted])
        after_retarget = await eventually(lambda: due_date_is(now + timedelta(hours=4)))
        await publish_events(settings, [resumed])
        after_resume = await eventually(lambda: due_date_is(now + timedelta(hours=6)))
    assert after_retarget["version"] == 3, "created, started, re-targeted"
    assert after_resume["version"] == 4
