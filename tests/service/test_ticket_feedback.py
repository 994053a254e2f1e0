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
from ticketstream.contracts.events import InboundCsatSubmitted
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
