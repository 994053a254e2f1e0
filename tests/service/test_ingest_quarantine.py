"""Ingest's quarantine, loop protection, bounces and webhook signatures, on the real broker and DB."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime

import pytest

from tests.helpers import bearer, make_email, prepare_topics, read_topic, running, settings_from
from ticketstream.auth import Role
from ticketstream.contracts import parse_event, topics
from ticketstream.contracts.events import InboundBounceReceived, InboundMessageReceived
from ticketstream_ingest.app import create_app
from ticketstream_ingest.settings import Settings
from ticketstream_ingest.signatures import webhook_signature

RFC822 = {"Content-Type": "message/rfc822"}


@pytest.fixture
def settings(infra_env) -> Settings:
    return settings_from(
        infra_env,
        Settings,
        smtp_port=0,
        inbound_max_bytes=64 * 1024,
        inbound_sender_limit_per_hour=3,
        inbound_blocked_senders="spammer@bad.example, @blocked.example",
    )


def unique_sender() -> str:
    return f"c{uuid.uuid4().hex[:8]}@example.com"


async def inbound_events(settings: Settings, count: int) -> list:
    records = await read_topic(
        settings.kafka_bootstrap, settings.topic(topics.INBOUND), until=lambda r: len(r) >= count
    )
    return [parse_event(r.headers, r.value).data for r in records]


async def test_unreadable_mail_is_held_listed_downloadable_and_discarded(settings):
    admin = bearer(settings, Role.ADMIN, sub="root")
    raw = b"Subject: no sender here\r\nMessage-ID: <x1@example.com>\r\n\r\nwho wrote this?"
    async with running(create_app(settings)) as client:
        held = await client.post("/v1/inbound/email", content=raw, headers=RFC822)
        again = await client.post("/v1/inbound/email", content=raw, headers=RFC822)
        listing = await client.get("/v1/quarantine", headers=admin)
        agent_listing = await client.get("/v1/quarantine", headers=bearer(settings, Role.AGENT))
        anonymous = await client.get("/v1/quarantine")
        entry_id = held.json()["inbound_id"]
        download = await client.get(f"/v1/quarantine/{entry_id}/raw", headers=admin)
        release = await client.post(f"/v1/quarantine/{entry_id}/release", headers=admin)
        discard = await client.post(f"/v1/quarantine/{entry_id}/discard", headers=admin)
        after = await client.get(f"/v1/quarantine/{entry_id}/raw", headers=admin)
        held_now = await client.get("/v1/quarantine", headers=admin)
        discarded = await client.get("/v1/quarantine?state=discarded", headers=admin)

    assert held.status_code == 202
    assert held.json() == {
        "status": "quarantined",
        "inbound_id": entry_id,
        "message_id": None,
        "reason": "the body is not an email: it has no From header",
    }
    assert again.json()["inbound_id"] == entry_id  # held once, not twice
    items = listing.json()["items"]
    assert [(i["id"], i["reason"], i["state"], i["channel"]) for i in items] == [
        (entry_id, "malformed", "held", "WEBHOOK")
    ]
    assert agent_listing.status_code in (403, 404)
    assert anonymous.status_code == 401
    assert download.status_code == 200
    assert download.content == raw
    assert release.status_code == 409
    assert "still cannot be read" in release.json()["error"]["message"]
    assert discard.status_code == 200
    assert discard.json()["state"] == "discarded"
    assert discard.json()["resolved_by"] == "root"
    assert after.status_code == 410
    assert held_now.json()["items"] == []
    assert [i["id"] for i in discarded.json()["items"]] == [entry_id]


async def test_a_mail_loop_is_cut_at_the_hourly_limit_and_released_by_an_admin(settings):
    await prepare_topics(settings)
    admin = bearer(settings, Role.ADMIN, sub="root")
    sender = unique_sender()
    mails = [make_email(sender=sender, subject=f"Loop {n}") for n in range(5)]
    async with running(create_app(settings)) as client:
        answers = [await client.post("/v1/inbound/email", content=m, headers=RFC822) for m in mails]
        repeat = await client.post("/v1/inbound/email", content=mails[0], headers=RFC822)
        held = (await client.get("/v1/quarantine?reason=loop", headers=admin)).json()["items"]
        first_page = (await client.get("/v1/quarantine?reason=loop&limit=1", headers=admin)).json()
        second_page = (
            await client.get(
                "/v1/quarantine",
                params={"reason": "loop", "limit": 1, "cursor": first_page["next_cursor"]},
                headers=admin,
            )
        ).json()
        last_page = (
            await client.get(
                "/v1/quarantine",
                params={"reason": "loop", "limit": 1, "cursor": second_page["next_cursor"]},
                headers=admin,
            )
        ).json()
        release = await client.post(f"/v1/quarantine/{held[-1]['id']}/release", headers=admin)
        second_release = await client.post(f"/v1/quarantine/{held[-1]['id']}/release", headers=admin)

    assert [a.json()["status"] for a in answers] == ["accepted"] * 3 + ["quarantined"] * 2
    assert "sent 4 messages within the hour (limit 3)" in answers[3].json()["reason"]
    assert repeat.json()["status"] == "duplicate"  # a duplicate is not counted against the sender
    assert sorted(i["subject"] for i in held) == ["Loop 3", "Loop 4"]
    assert [first_page["items"][0]["id"], second_page["items"][0]["id"]] == [i["id"] for i in held]
    assert (last_page["items"], last_page["next_cursor"]) == ([], None)
    assert release.status_code == 200
    assert release.json()["result"]["status"] == "accepted"
    assert release.json()["entry"]["state"] == "released"
    assert release.json()["entry"]["released_as"] == release.json()["result"]["inbound_id"]
    assert second_release.status_code == 409
    events = await inbound_events(settings, 4)
    assert sorted(e.subject for e in events) == ["Loop 0", "Loop 1", "Loop 2", "Loop 3"]


@pytest.mark.parametrize(
    ("sender", "reason", "detail"),
    [
        ("support@ticketstream.local", "own_address", "own address support@ticketstream.local"),
        ("support+TKT-0009@ticketstream.local", "own_address", "own address"),
        ("spammer@bad.example", "blocked_sender", "is blocked (spammer@bad.example)"),
        ("anyone@blocked.example", "blocked_sender", "is blocked (@blocked.example)"),
    ],
)
async def test_own_and_blocked_senders_are_held(settings, sender, reason, detail):
    async with running(create_app(settings)) as client:
        answer = await client.post("/v1/inbound/email", content=make_email(sender=sender), headers=RFC822)
        items = (await client.get("/v1/quarantine", headers=bearer(settings, Role.ADMIN))).json()["items"]
    assert answer.json()["status"] == "quarantined"
    assert detail in answer.json()["reason"]
    assert [(i["reason"], i["sender"]) for i in items] == [(reason, sender.lower())]


async def test_a_bounce_is_published_as_bounce_news_and_a_delay_notice_not_at_all(settings):
    await prepare_topics(settings)
    bounce = (
        b"From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\r\n"
        b"To: support@ticketstream.local\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\n"
        b"Message-ID: <dsn-1@mx.example.net>\r\n"
        b"Auto-Submitted: auto-replied\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        b"--B\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n"
        b"--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        b"Reporting-MTA: dns; mx.example.net\r\n\r\n"
        b"Final-Recipient: rfc822; gone@customer.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        b"Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n"
        b"--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        b"From: support@ticketstream.local\r\nMessage-ID: <reply-7@ticketstream.local>\r\n"
        b"--B--\r\n"
    )
    delayed = (
        bounce.replace(b"Action: failed\r\nStatus: 5.1.1", b"Action: delayed\r\nStatus: 4.4.1")
        .replace(b"<dsn-1@mx.example.net>", b"<dsn-0@mx.example.net>")
        .replace(b"Undelivered Mail Returned to Sender", b"Delayed Mail (still being retried)")
    )
    async with running(create_app(settings)) as client:
        notice = await client.post("/v1/inbound/email", content=delayed, headers=RFC822)
        answer = await client.post("/v1/inbound/email", content=bounce, headers=RFC822)
        await asyncio.sleep(1)  # a wrongly published delay notice would be on the topic by now
    assert notice.json()["status"] == "accepted"  # kept, but no one's request and no failure
    assert answer.json()["status"] == "accepted"
    (event,) = await inbound_events(settings, 1)
    assert isinstance(event, InboundBounceReceived)
    assert event.bounced_address == "gone@customer.example"
    assert event.original_message_id == "<reply-7@ticketstream.local>"
    assert event.permanent is True
    assert event.diagnostic == "550 5.1.1 user unknown"


async def test_an_out_of_office_is_flagged_and_its_html_is_sanitised(settings):
    await prepare_topics(settings)
    raw = (
        b"From: Ana <ana@example.com>\r\nTo: support+TKT-0042@ticketstream.local\r\n"
        b"Subject: Automatic reply: [TKT-0042] Printer\r\nMessage-ID: <oof-1@example.com>\r\n"
        b"Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n"
        b"Authentication-Results: mx.ticketstream.local; spf=pass smtp.mailfrom=example.com;"
        b" dkim=fail\r\n\r\n"
        b'<p onclick="steal()">I am away<script>alert(1)</script></p>'
    )
    async with running(create_app(settings)) as client:
        await client.post("/v1/inbound/email", content=raw, headers=RFC822)
    (event,) = await inbound_events(settings, 1)
    assert isinstance(event, InboundMessageReceived)
    assert event.auto_submitted is True
    assert event.auto_submitted_reason == "Auto-Submitted: auto-replied"
    assert event.text_body == "I am away"
    assert event.html_body == "<p>I am away</p>"
    assert (event.addressed_ref, event.subject_ref) == ("TKT-0042", "TKT-0042")
    assert (event.sender_domain, event.sender_free_mail) == ("example.com", False)
    assert event.authentication is not None
    assert (event.authentication.spf, event.authentication.dkim) == ("pass", "fail")


async def test_a_signed_webhook_needs_a_valid_recent_signature(infra_env):
    settings = settings_from(infra_env, Settings, smtp_port=0, inbound_webhook_secret="s3cret-for-tests")
    await prepare_topics(settings)
    good = make_email(subject="Signed")
    stamp = str(int(time.time()))
    signed = {
        **RFC822,
        "X-Ticketstream-Timestamp": stamp,
        "X-Ticketstream-Signature": webhook_signature("s3cret-for-tests", timestamp=stamp, body=good),
    }
    forged = {**signed, "X-Ticketstream-Signature": webhook_signature("wrong", timestamp=stamp, body=good)}
    old_stamp = str(int(datetime.now(UTC).timestamp()) - 3600)
    stale = {
        **RFC822,
        "X-Ticketstream-Timestamp": old_stamp,
        "X-Ticketstream-Signature": webhook_signature("s3cret-for-tests", timestamp=old_stamp, body=good),
    }
    async with running(create_app(settings)) as client:
        unsigned = await client.post("/v1/inbound/email", content=make_email(), headers=RFC822)
        bad = await client.post("/v1/inbound/email", content=make_email(), headers=forged)
        late = await client.post("/v1/inbound/email", content=make_email(), headers=stale)
        ok = await client.post("/v1/inbound/email", content=good, headers=signed)
    assert (unsigned.json()["status"], bad.json()["status"], late.json()["status"]) == ("quarantined",) * 3
    assert "no X-Ticketstream-Timestamp" in unsigned.json()["reason"]
    assert bad.json()["reason"] == "the signature does not match the body"
    assert "away from now" in late.json()["reason"]
    assert ok.json()["status"] == "accepted"
    (event,) = await inbound_events(settings, 1)
    assert json.loads(event.model_dump_json())["subject"] == "Signed"
