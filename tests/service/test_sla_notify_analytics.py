"""sla, notify and analytics against the real broker and database, fed with ticket.created."""

from __future__ import annotations

import asyncio
import email
from datetime import UTC, datetime, timedelta

import pytest
from aiosmtpd.smtp import SMTP

from tests.helpers import (
    bearer,
    eventually,
    prepare_topics,
    publish_events,
    read_topic,
    running,
    settings_from,
    ticket_created,
    ticket_snapshot,
)
from tests.mail_parts import text_and_html
from ticketstream.auth import Role
from ticketstream.contracts import topics
from ticketstream.devstack.processes import free_port
from ticketstream_analytics.app import create_app as create_analytics
from ticketstream_analytics.settings import Settings as AnalyticsSettings
from ticketstream_notify.app import create_app as create_notify
from ticketstream_notify.settings import Settings as NotifySettings
from ticketstream_sla.app import create_app as create_sla
from ticketstream_sla.settings import Settings as SlaSettings


async def test_sla_starts_first_response_and_resolution_clocks_from_the_default_policy(infra_env):
    settings = settings_from(infra_env, SlaSettings)
    await prepare_topics(settings)
    ticket = ticket_snapshot(ref="TKT-0042", priority="URGENT")
    async with running(create_sla(settings)) as client:
        await publish_events(
            settings, [ticket_created(ticket), ticket_created(ticket)], event_ids=["e1", "e1"]
        )

        async def clocks():
            response = await client.get("/v1/clocks/TKT-0042", headers=bearer(settings))
            return response.json() if response.status_code == 200 else None

        view = await eventually(clocks)
        policies = (await client.get("/v1/policies", headers=bearer(settings))).json()
        unknown = await client.get("/v1/clocks/TKT-0404", headers=bearer(settings))
    targets = {target["target"]: target for target in view["targets"]}
    assert set(targets) == {"first_response", "resolution"}
    created = ticket.created_at
    assert datetime.fromisoformat(targets["first_response"]["due_at"]) == _ms(created + timedelta(hours=1))
    assert datetime.fromisoformat(targets["resolution"]["due_at"]) == _ms(created + timedelta(hours=4))
    assert targets["first_response"]["status"] == "On Track"
    assert targets["first_response"]["policy_id"] == "default-urgent"
    assert 3500 < targets["first_response"]["remaining_seconds"] <= 3600
    assert [p["priority"] for p in policies] == ["URGENT", "HIGH", "MEDIUM", "LOW"]
    assert unknown.status_code == 404
    started = await read_topic(
        settings.kafka_bootstrap, settings.topic(topics.SLA), until=lambda r: len(r) >= 2
    )
    assert sorted(r.headers["ce_type"] for r in started) == ["sla.clock_started", "sla.clock_started"]
    assert {r.key for r in started} == {ticket.id}


def _ms(moment: datetime) -> datetime:
    """MongoDB keeps milliseconds."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


class CapturingRelay:
    """A real SMTP server standing in for the outbound relay; it keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802
        self.messages.append(email.message_from_bytes(envelope.original_content))
        return "250 OK"


@pytest.fixture
async def smtp_relay():
    relay = CapturingRelay()
    port = free_port()
    server = await asyncio.get_running_loop().create_server(lambda: SMTP(relay), "127.0.0.1", port)
    yield relay, f"smtp://127.0.0.1:{port}"
    server.close()
    await server.wait_closed()


async def test_notify_tells_staff_in_app_and_mails_the_customer_a_threaded_acknowledgement(
    infra_env, smtp_relay
):
    relay, smtp_url = smtp_relay
    settings = settings_from(infra_env, NotifySettings, smtp_url=smtp_url)
    await prepare_topics(settings)
    ticket = ticket_snapshot(ref="TKT-0007", requester="kim@example.com", thread="<root7@example.com>")
    async with running(create_notify(settings)) as client:
        await publish_events(
            settings, [ticket_created(ticket), ticket_created(ticket)], event_ids=["n1", "n1"]
        )
        await eventually(lambda: _true(len(relay.messages) >= 1))
        delivered = await read_topic(
            settings.kafka_bootstrap, settings.topic(topics.NOTIFY), until=lambda r: len(r) >= 1
        )
        inbox = (
            await client.get("/v1/notifications", headers=bearer(settings, sub="alice", teams=["support"]))
        ).json()
        customer = await client.get("/v1/notifications", headers=bearer(settings, Role.CUSTOMER))
        mail_log = (await client.get("/v1/dev/mail", headers=bearer(settings))).json()
    assert len(relay.messages) == 1, "a redelivered event must not mail twice"
    sent = relay.messages[0]
    assert sent["To"] == "kim@example.com"
    assert sent["Subject"] == "[TKT-0007] We received your request: Title of TKT-0007"
    assert sent["In-Reply-To"] == "<root7@example.com>"
    assert sent["References"] == "<root7@example.com>"
    assert sent["Reply-To"] == "support+TKT-0007@ticketstream.local"
    assert sent["Message-ID"] == f"<ack.{ticket.id}@ticketstream.local>"
    text, html = text_and_html(sent)
    assert sent.get_content_type() == "multipart/alternative"
    assert "TKT-0007" in text and "TKT-0007" in html
    assert [r.headers["ce_type"] for r in delivered] == ["notify.delivered"]
    assert inbox["unread_count"] == 1
    assert inbox["items"][0]["title"] == "New ticket TKT-0007: Title of TKT-0007"
    assert customer.status_code == 404
    assert [m["status"] for m in mail_log["items"]] == ["sent"]


async def test_notify_without_a_relay_keeps_mail_for_the_dev_mailbox(infra_env):
    settings = settings_from(infra_env, NotifySettings)
    await prepare_topics(settings)
    ticket = ticket_snapshot(ref="TKT-0008")
    async with running(create_notify(settings)) as client:
        await publish_events(settings, [ticket_created(ticket)])

        async def stored():
            items = (await client.get("/v1/dev/mail", headers=bearer(settings))).json()["items"]
            return items if items and items[0]["status"] == "stored" else None

        items = await eventually(stored)
    assert items[0]["subject"].startswith("[TKT-0008]")


async def test_notify_acknowledges_no_ticket_opened_by_an_auto_reply(infra_env):
    from ticketstream.broker import EventProducer
    from ticketstream.contracts import encode_event
    from ticketstream.contracts.events import InteractionSummary
    from ticketstream.contracts.models import InteractionType, Person

    settings = settings_from(infra_env, NotifySettings)
    await prepare_topics(settings)

    def opened_by(ref: str, *, auto_submitted: bool):
        ticket = ticket_snapshot(ref=ref)
        first = InteractionSummary(
            id=f"i-{ref}",
            type=InteractionType.EMAIL_INBOUND,
            customer_visible=True,
            author=Person(email="kim@example.com"),
            body_text="I am away until Monday." if auto_submitted else "The printer is on fire.",
            auto_submitted=auto_submitted,
            created_at=ticket.created_at,
        )
        return ticket_created(ticket).model_copy(update={"first_interaction": first})

    events = [opened_by("TKT-0011", auto_submitted=True), opened_by("TKT-0012", auto_submitted=False)]
    async with running(create_notify(settings)) as client:
        producer = EventProducer(settings)
        await producer.start()
        try:
            # One key: the auto-reply's ticket is handled before the person's.
            messages = [
                encode_event(event, service="tickets", key="one", subject=event.ref) for event in events
            ]
            assert await producer.publish_batch(messages) == [None, None]
        finally:
            await producer.stop()

        async def both_handled():
            inbox = (
                await client.get(
                    "/v1/notifications", headers=bearer(settings, sub="alice", teams=["support"])
                )
            ).json()
            return inbox if inbox["unread_count"] == 2 else None

        await eventually(both_handled)
        mail = (await client.get("/v1/dev/mail", headers=bearer(settings))).json()["items"]
    assert [item["subject"] for item in mail] == ["[TKT-0012] We received your request: Title of TKT-0012"]


async def test_notify_retries_a_failing_relay_and_reports_the_failure(infra_env):
    settings = settings_from(infra_env, NotifySettings, smtp_url=f"smtp://127.0.0.1:{free_port()}")
    await prepare_topics(settings)
    async with running(create_notify(settings)) as client:
        await publish_events(settings, [ticket_created(ticket_snapshot(ref="TKT-0009"))])

        async def retried():
            items = (await client.get("/v1/dev/mail", headers=bearer(settings))).json()["items"]
            return items if items and items[0]["status"] == "pending" else None

        items = await eventually(retried)
    assert items[0]["subject"].startswith("[TKT-0009]")


async def test_analytics_counts_each_ticket_once_per_day(infra_env):
    settings = settings_from(infra_env, AnalyticsSettings)
    await prepare_topics(settings)
    today = datetime.now(UTC)
    yesterday = today - timedelta(days=1)
    tickets = [
        ticket_snapshot(ref="TKT-0001", created_at=yesterday),
        ticket_snapshot(ref="TKT-0002", created_at=today, source="API"),
        ticket_snapshot(ref="TKT-0003", created_at=today),
    ]
    events = [ticket_created(t) for t in tickets]
    async with running(create_analytics(settings)) as client:
        # The last ticket is announced twice with different event ids: still one ticket.
        await publish_events(settings, [*events, events[2]])

        async def report():
            body = (await client.get("/v1/reports/volume?interval=day", headers=bearer(settings))).json()
            return body if body["total"] >= 3 else None

        daily = await eventually(report)
        await asyncio.sleep(0.5)  # room for a wrongly double-counted event to show up
        daily = (await client.get("/v1/reports/volume?interval=day", headers=bearer(settings))).json()
        monthly = (await client.get("/v1/reports/volume?interval=month", headers=bearer(settings))).json()
        inverted = await client.get(
            "/v1/reports/volume?from=2026-02-01&to=2026-01-01", headers=bearer(settings)
        )
        bad_interval = await client.get("/v1/reports/volume?interval=hour", headers=bearer(settings))
    assert daily["total"] == 3
    assert [(b["start"], b["created"]) for b in daily["buckets"]] == [
        (yesterday.date().isoformat(), 1),
        (today.date().isoformat(), 2),
    ]
    assert daily["buckets"][1]["by_source"] == {"API": 1, "EMAIL": 1}
    assert sum(b["created"] for b in monthly["buckets"]) == 3
    assert inverted.status_code == 422 and bad_interval.status_code == 422


async def _true(value: object) -> bool:
    return bool(value)
