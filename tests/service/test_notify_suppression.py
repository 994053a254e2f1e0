"""Bounce suppression against the real broker and database: a permanent bounce or a 5xx refusal
stops mail to the address (reported as notify.failed) until an admin clears it."""

from __future__ import annotations

import asyncio
import email
import json
from datetime import UTC, datetime
from typing import Any

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
from ticketstream.auth import Role
from ticketstream.contracts import topics
from ticketstream.contracts.events import InboundBounceReceived
from ticketstream.devstack.processes import free_port
from ticketstream_notify.app import create_app as create_notify
from ticketstream_notify.settings import Settings as NotifySettings

REFUSED = "gone@example.com"


class RefusingRelay:
    """A real SMTP server that refuses one recipient for good and another for now."""

    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:  # noqa: N802
        if address == REFUSED:
            return "550 5.1.1 mailbox does not exist"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802
        self.messages.append(email.message_from_bytes(envelope.original_content))
        return "250 OK"


@pytest.fixture
async def refusing_relay():
    relay = RefusingRelay()
    port = free_port()
    server = await asyncio.get_running_loop().create_server(lambda: SMTP(relay), "127.0.0.1", port)
    yield relay, f"smtp://127.0.0.1:{port}"
    server.close()
    await server.wait_closed()


def bounce(
    address: str, *, permanent: bool, message_id: str = "<reply1@ticketstream.local>"
) -> InboundBounceReceived:
    return InboundBounceReceived(
        inbound_id=f"in-{address}-{message_id}",
        bounced_address=address,
        original_message_id=message_id,
        permanent=permanent,
        diagnostic="550 5.1.1 user unknown" if permanent else "452 mailbox full",
        received_at=datetime.now(UTC),
    )


def failures(records: list[Any]) -> list[dict[str, Any]]:
    return [json.loads(r.value) for r in records if r.headers["ce_type"] == "notify.failed"]


async def test_a_permanent_bounce_suppresses_the_address_until_an_admin_clears_it(infra_env, refusing_relay):
    relay, smtp_url = refusing_relay
    settings = settings_from(infra_env, NotifySettings, smtp_url=smtp_url)
    await prepare_topics(settings)
    admin = bearer(settings, Role.ADMIN, sub="ada")
    async with running(create_notify(settings)) as client:
        # Only a bounce of mail notify really sent to the address counts.
        first = ticket_snapshot(ref="TKT-0950", requester="Bounced@Example.com")
        await publish_events(settings, [ticket_created(first)])
        [original] = await eventually(
            lambda: _true([m for m in relay.messages if "TKT-0950" in m["Subject"]]), timeout=60
        )
        original_id = original["Message-ID"]
        # One partition (no ticket id): the forged reports are handled before the real one.
        await publish_events(
            settings,
            [
                bounce("victim@example.com", permanent=True, message_id="<made.up@elsewhere>"),
                bounce("victim@example.com", permanent=True, message_id=original_id),
                bounce("Bounced@Example.com", permanent=True, message_id=original_id),
                bounce("full@example.com", permanent=False),
            ],
        )

        async def suppressed() -> Any:
            items = (await client.get("/v1/suppressions", headers=admin)).json()["items"]
            return items or None

        [entry] = await eventually(suppressed)
        kept = ticket_snapshot(ref="TKT-0951", requester="bounced@example.com")
        sent = ticket_snapshot(ref="TKT-0952", requester="full@example.com")
        await publish_events(settings, [ticket_created(kept), ticket_created(sent)])
        reported = await read_topic(
            settings.kafka_bootstrap,
            settings.topic(topics.NOTIFY),
            until=lambda records: len(records) >= 3,
        )
        mail_log = (await client.get("/v1/dev/mail", headers=admin)).json()["items"]
        by_agent = await client.get("/v1/suppressions", headers=bearer(settings, Role.AGENT))
        cleared = await client.delete("/v1/suppressions/bounced@example.com", headers=admin)
        again = await client.delete("/v1/suppressions/bounced@example.com", headers=admin)
        malformed = await client.delete("/v1/suppressions/not-an-address", headers=admin)
        after = (await client.get("/v1/suppressions", headers=admin)).json()["items"]
        later = ticket_snapshot(ref="TKT-0953", requester="bounced@example.com")
        await publish_events(settings, [ticket_created(later)])
        await eventually(lambda: _true(any("TKT-0953" in m["Subject"] for m in relay.messages)))
    assert entry["email"] == "bounced@example.com"
    assert (entry["source"], entry["reason"]) == ("bounce", "550 5.1.1 user unknown")
    assert entry["message_id"] == original_id, "the forged bounces for victim@example.com were ignored"
    [failed] = failures(reported)
    assert failed["recipient"] == "bounced@example.com" and failed["permanent"] is True
    assert failed["error"] == "address suppressed after bounce: 550 5.1.1 user unknown"
    statuses = {m["subject"].split("]")[0]: (m["to"].lower(), m["status"]) for m in mail_log}
    assert statuses == {
        "[TKT-0950": ("bounced@example.com", "sent"),
        "[TKT-0951": ("bounced@example.com", "suppressed"),
        "[TKT-0952": ("full@example.com", "sent"),
    }
    assert [m["To"] for m in relay.messages][:2] == ["Bounced@Example.com", "full@example.com"], (
        "a soft bounce suppresses nothing"
    )
    assert by_agent.status_code == 403
    assert (cleared.status_code, again.status_code, malformed.status_code) == (204, 404, 422)
    assert after == []


async def test_a_5xx_refusal_fails_at_once_and_suppresses_while_admins_may_add_by_hand(
    infra_env, refusing_relay
):
    relay, smtp_url = refusing_relay
    settings = settings_from(infra_env, NotifySettings, smtp_url=smtp_url)
    await prepare_topics(settings)
    admin = bearer(settings, Role.ADMIN, sub="ada")
    async with running(create_notify(settings)) as client:
        added = await client.post(
            "/v1/suppressions",
            headers=admin,
            json={"email": "Asked@Example.com", "reason": "asked us to stop"},
        )
        invalid = await client.post("/v1/suppressions", headers=admin, json={"email": "nobody"})
        by_manager = await client.post(
            "/v1/suppressions", headers=bearer(settings, Role.MANAGER), json={"email": "x@example.com"}
        )
        refused = ticket_snapshot(ref="TKT-0961", requester=REFUSED)
        asked = ticket_snapshot(ref="TKT-0962", requester="asked@example.com")
        await publish_events(settings, [ticket_created(refused), ticket_created(asked)])
        reported = await read_topic(
            settings.kafka_bootstrap,
            settings.topic(topics.NOTIFY),
            until=lambda records: len(failures(records)) >= 2,
        )

        async def listed() -> Any:
            items = (await client.get("/v1/suppressions", headers=admin)).json()["items"]
            return items if len(items) == 2 else None

        entries = {item["email"]: item for item in await eventually(listed)}
        mail_log = (await client.get("/v1/dev/mail", headers=admin)).json()["items"]
    assert added.status_code == 201 and added.json()["email"] == "asked@example.com"
    assert invalid.status_code == 422
    assert by_manager.status_code == 403
    errors = {f["recipient"]: f["error"] for f in failures(reported)}
    assert errors["asked@example.com"] == "address suppressed by an admin: asked us to stop"
    assert "550" in errors[REFUSED]
    assert (entries[REFUSED]["source"], entries[REFUSED]["reason"]) == (
        "relay",
        "550 5.1.1 mailbox does not exist",
    )
    attempts = {m["to"]: m["status"] for m in mail_log}
    assert attempts == {REFUSED: "failed", "asked@example.com": "suppressed"}
    assert relay.messages == []


async def _true(value: Any) -> Any:
    return value
