"""What comes back to a ticket after the fact: satisfaction answers, delivery reports, bounces."""

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
from ticketstream.contracts.events import InboundBounceReceived, InboundCsatSubmitted, NotifyDelivered
from ticketstream.contracts.models import Csat
from ticketstream_tickets.app import create_app
from ticketstream_tickets.settings import Settings


@pytest.fixture
def settings(infra_env) -> Settings:
    return settings_from(infra_env, Settings)


def csat_answer(ticket: dict, score: int, comment: str | None, *, at: datetime) -> InboundCsatSubmitted:
    return InboundCsatSubmitted(
        ticket_id=ticket["id"], ref=ticket["ref"], csat=Csat(score=score, comment=comment), submitted_at=at
    )


async def test_csat_is_recorded_once_as_a_staff_only_form_and_a_later_answer_replaces_it(settings):
    await prepare_topics(settings)
    agent = bearer(settings)
    customer = bearer(settings, Role.CUSTOMER, sub="kim", email="kim@example.com")
    async with running(create_app(settings)) as client:
        ticket = (
            await client.post(
                "/v1/tickets",
                json={"title": "Export fails", "requester": {"email": "kim@example.com"}},
                headers=agent,
            )
        ).json()
        first_at = datetime.now(UTC)
        first = csat_answer(ticket, 2, "Slow answer", at=first_at)
        await publish_events(settings, [first, first], event_ids=["csat-1", "csat-1"])

        async def scored(score: int):
            current = (await client.get(f"/v1/tickets/{ticket['ref']}", headers=agent)).json()
            return current if current["csat"] and current["csat"]["score"] == score else None

        after_first = await eventually(lambda: scored(2))
        changed_mind = csat_answer(ticket, 5, "Solved after all", at=first_at + timedelta(minutes=5))
        stale = csat_answer(ticket, 1, "An old answer delivered late", at=first_at - timedelta(minutes=5))
        await publish_events(settings, [changed_mind, stale])
        after_second = await eventually(lambda: scored(5))
        portal = (await client.get(f"/v1/portal/tickets/{ticket['ref']}", headers=customer)).json()
        activity = (await client.get(f"/v1/tickets/{ticket['ref']}/activity", headers=agent)).json()["items"]
    forms = [item for item in after_second["interactions"] if item["type"] == "FORM_SUBMISSION"]
    assert after_first["csat"] == {"score": 2, "comment": "Slow answer"}
    assert after_second["csat"] == {"score": 5, "comment": "Solved after all"}
    assert len(forms) == 1 and forms[0]["customer_visible"] is False
    assert forms[0]["body_text"] == "Satisfaction survey: 5/5\nSolved after all"
    assert all(message["type"] != "FORM_SUBMISSION" for message in portal["messages"])
    csat_entries = [entry for entry in activity if entry["action"] == "ticket.csat_recorded"]
    assert [entry["changes"][0]["after"]["score"] for entry in csat_entries] == [2, 5]

    def csat_events(records) -> list[dict]:
        return [
            json.loads(record.value)
            for record in records
            if record.headers["ce_type"] == "ticket.csat_recorded"
        ]

    events = await read_topic(
        settings.kafka_bootstrap,
        settings.topic(topics.TICKETS),
        until=lambda records: len(csat_events(records)) >= 2,
    )
    assert [payload["csat"]["score"] for payload in csat_events(events)] == [2, 5]


async def test_csat_for_an_unknown_ticket_changes_nothing_and_consumption_goes_on(settings):
    await prepare_topics(settings)
    agent = bearer(settings)
    async with running(create_app(settings)) as client:
        ticket = (await client.post("/v1/tickets", json={"title": "Known"}, headers=agent)).json()
        ghost = {"id": str(uuid.uuid4()), "ref": "TKT-9999"}
        now = datetime.now(UTC)
        await publish_events(
            settings, [csat_answer(ghost, 1, None, at=now), csat_answer(ticket, 4, None, at=now)]
        )

        async def scored():
            current = (await client.get(f"/v1/tickets/{ticket['ref']}", headers=agent)).json()
            return current if current["csat"] else None

        known = await eventually(scored)
        ghost_lookup = await client.get("/v1/tickets/TKT-9999", headers=agent)
    assert known["csat"] == {"score": 4, "comment": None}
    assert ghost_lookup.status_code == 404


async def test_delivery_reports_and_bounces_update_the_reply_and_tell_the_agent(settings):
    await prepare_topics(settings)
    agent = bearer(settings)
    async with running(create_app(settings)) as client:
        ticket = (
            await client.post(
                "/v1/tickets",
                json={"title": "Refund", "requester": {"email": "kim@example.com"}},
                headers=agent,
            )
        ).json()
        reply = (
            await client.post(
                f"/v1/tickets/{ticket['ref']}/replies", json={"body": "Refunded."}, headers=agent
            )
        ).json()["interaction"]
        now = datetime.now(UTC)
        sent = NotifyDelivered(
            notification_id="mail-1",
            ticket_id=ticket["id"],
            ref=ticket["ref"],
            channel="email",
            recipient="kim@example.com",
            message_id=reply["message_id"],
            occurred_at=now,
        )
        await publish_events(settings, [sent])

        async def reply_with(status: str):
            items = (await client.get(f"/v1/tickets/{ticket['ref']}/interactions", headers=agent)).json()[
                "items"
            ]
            [current] = [item for item in items if item["id"] == reply["id"]]
            return items if current["delivery_status"] == status else None

        await eventually(lambda: reply_with("sent"))
        bounce = InboundBounceReceived(
            inbound_id="bounce-1",
            bounced_address="kim@example.com",
            original_message_id=reply["message_id"],
            diagnostic="550 5.1.1 mailbox unknown",
            received_at=now,
        )
        late_acceptance = sent.model_copy(update={"notification_id": "mail-1-again"})
        await publish_events(settings, [bounce, bounce], event_ids=["bounce-1", "bounce-1"])
        items = await eventually(lambda: reply_with("bounced"))
        second = (
            await client.post(f"/v1/tickets/{ticket['ref']}/replies", json={"body": "Also..."}, headers=agent)
        ).json()["interaction"]
        # Same topic and key as the late report, so once the second reply shows "sent" the late
        # report before it has been handled too.
        second_sent = sent.model_copy(
            update={"notification_id": "mail-2", "message_id": second["message_id"]}
        )
        await publish_events(settings, [late_acceptance, second_sent])

        async def second_reply_sent():
            items = (await client.get(f"/v1/tickets/{ticket['ref']}/interactions", headers=agent)).json()[
                "items"
            ]
            return (
                items
                if any(i["id"] == second["id"] and i["delivery_status"] == "sent" for i in items)
                else None
            )

        after_late = await eventually(second_reply_sent)
        customer = bearer(settings, Role.CUSTOMER, sub="kim", email="kim@example.com")
        portal = (await client.get(f"/v1/portal/tickets/{ticket['ref']}", headers=customer)).json()
    assert reply["delivery_status"] == "sending"
    [bounced] = [item for item in items if item["id"] == reply["id"]]
    assert bounced["delivery_detail"] == "550 5.1.1 mailbox unknown"
    notes = [item for item in items if item["type"] == "SYSTEM"]
    assert len(notes) == 1 and notes[0]["customer_visible"] is False
    assert notes[0]["body_text"] == (
        f'The email "[{ticket["ref"]}] Refund" to kim@example.com bounced: 550 5.1.1 mailbox unknown.'
    )
    assert [item["delivery_status"] for item in after_late if item["id"] == reply["id"]] == ["bounced"]
    assert all(message["type"] != "SYSTEM" for message in portal["messages"])
