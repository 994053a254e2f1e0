"""notify's webhooks against the real broker and database, delivering to a real HTTP receiver on
localhost that checks every signature itself (private targets are allowed for these tests)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

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
from ticketstream.contracts.events import InteractionSummary, TicketInteractionAdded
from ticketstream.contracts.models import InteractionType
from ticketstream_notify.app import create_app as create_notify
from ticketstream_notify.settings import Settings as NotifySettings

TOLERANCE_SECONDS = 300


def verify_signature(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """A receiver's check, written from the scheme's description rather than from notify's code:
    any `v1,` entry of webhook-signature must equal base64(HMAC-SHA256(key, id.timestamp.body))."""
    message_id, timestamp = headers["webhook-id"], headers["webhook-timestamp"]
    if abs(time.time() - int(timestamp)) > TOLERANCE_SECONDS:
        return False
    key = base64.b64decode(secret.split("_", 1)[1])
    expected = base64.b64encode(
        hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    ).decode()
    offered = [entry.split(",", 1) for entry in headers["webhook-signature"].split()]
    return any(version == "v1" and hmac.compare_digest(value, expected) for version, value in offered)


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int


@dataclass
class Receiver:
    """Answers each path with its scripted status codes in turn (the last one repeats)."""

    url: str = ""
    script: dict[str, list[int]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, path: str) -> int:
        with self.lock:
            codes = self.script.setdefault(path, [200])
            return codes.pop(0) if len(codes) > 1 else codes[0]

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [request for request in self.received if request.path == path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            code = state.answer(self.path)
            with state.lock:
                headers = {name.lower(): value for name, value in self.headers.items()}
                state.received.append(Received(self.path, headers, body, code))
            self.send_response(code)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def webhook_settings(infra_env: dict[str, str], **overrides: Any) -> NotifySettings:
    return settings_from(
        infra_env,
        NotifySettings,
        webhook_allow_private=True,
        **{"webhook_retry_schedule_seconds": (0.2,), **overrides},
    )


async def test_deliveries_are_signed_retried_until_they_succeed_logged_and_resendable(infra_env, receiver):
    settings = webhook_settings(infra_env, webhook_retry_window_seconds=60)
    await prepare_topics(settings)
    receiver.script["/tickets"] = [500, 500, 200]
    admin = bearer(settings, Role.ADMIN, sub="ada")
    ticket = ticket_snapshot(ref="TKT-0701")
    async with running(create_notify(settings)) as client:
        created = await client.post(
            "/v1/webhooks",
            json={"url": f"{receiver.url}/tickets", "event_types": ["ticket.*"], "description": "CRM"},
            headers=admin,
        )
        other = await client.post(
            "/v1/webhooks",
            json={"url": f"{receiver.url}/sla", "event_types": ["sla.breached"]},
            headers=admin,
        )
        assert created.status_code == 201, created.text
        subscription = created.json()
        secret = subscription["secret"]
        # The same event twice (a redelivery) makes one delivery.
        await publish_events(settings, [ticket_created(ticket)] * 2, event_ids=["evt-701", "evt-701"])

        await eventually(lambda: _async(receiver.at("/tickets")[2:]), timeout=30)
        first_round = receiver.at("/tickets")

        async def delivered_log() -> Any:
            answer = (await client.get(f"/v1/webhooks/{subscription['id']}/deliveries", headers=admin)).json()
            return answer if answer["items"] and answer["items"][0]["status"] == "delivered" else None

        log = await eventually(delivered_log)
        [delivery] = log["items"]
        resent = await client.post(
            f"/v1/webhooks/{subscription['id']}/deliveries/{delivery['id']}/resend", headers=admin
        )
        await eventually(lambda: _async(receiver.at("/tickets")[3:]))

        async def resent_log() -> Any:
            answer = (await client.get(f"/v1/webhooks/{subscription['id']}/deliveries", headers=admin)).json()
            item = answer["items"][0]
            return item if item["status"] == "delivered" and item["attempt_count"] == 4 else None

        after_resend = await eventually(resent_log)
        shown = (await client.get(f"/v1/webhooks/{subscription['id']}", headers=admin)).json()
        in_app = (await client.get("/v1/notifications", headers=bearer(settings, Role.AGENT))).json()
        listed = (await client.get("/v1/webhooks", headers=admin)).json()
        records = await read_topic(
            settings.kafka_bootstrap,
            settings.topic(topics.NOTIFY),
            until=lambda found: sum(r.headers["ce_type"] == "notify.webhook_delivered" for r in found) >= 2,
        )
    # The webhook subscribers read in their own consumer group, so the in-app side saw it too.
    assert [item["title"] for item in in_app["items"]] == ["New ticket TKT-0701: Title of TKT-0701"]
    assert receiver.at("/sla") == [], "a subscription to sla.breached does not get ticket events"
    assert other.status_code == 201
    assert [request.answered for request in first_round] == [500, 500, 200]
    assert all(verify_signature(secret, r.headers, r.body) for r in receiver.at("/tickets"))
    assert not verify_signature(other.json()["secret"], first_round[0].headers, first_round[0].body)
    assert {r.headers["webhook-id"] for r in receiver.at("/tickets")} == {delivery["id"]}
    body = json.loads(first_round[0].body)
    assert (body["type"], body["id"], body["subject"]) == ("ticket.created", "evt-701", "TKT-0701")
    assert body["data"]["ticket"]["id"] == ticket.id
    assert first_round[0].headers["content-type"] == "application/json"

    assert_two_failures_then_success(delivery)
    assert resent.status_code == 202
    assert [a["status_code"] for a in after_resend["attempts"]] == [500, 500, 200, 200]

    assert "secret" not in shown and all("secret" not in item for item in listed["items"])
    assert shown["failing_since"] is None and shown["last_success_at"] is not None
    delivered = [json.loads(r.value) for r in records if r.headers["ce_type"] == "notify.webhook_delivered"]
    assert [
        (d["notification_id"], d["ref"], d["channel"], d["recipient"], d["status_code"]) for d in delivered
    ] == [(delivery["id"], "TKT-0701", "webhook", f"webhook:{subscription['id']}", 200)] * 2


def internal_note(ref: str) -> TicketInteractionAdded:
    ticket = ticket_snapshot(ref=ref)
    return TicketInteractionAdded(
        ticket_id=ticket.id,
        ref=ticket.ref,
        sequence=2,
        occurred_at=ticket.created_at,
        ticket=ticket,
        interaction=InteractionSummary(
            id="note-1",
            type=InteractionType.INTERNAL_NOTE,
            customer_visible=False,
            body_text="staff only",
            created_at=ticket.created_at,
        ),
    )


async def test_a_retrying_internal_note_is_skipped_once_the_subscription_stops_including_them(
    infra_env, receiver
):
    settings = webhook_settings(
        infra_env, webhook_retry_schedule_seconds=(1.0,), webhook_retry_window_seconds=60
    )
    await prepare_topics(settings)
    receiver.script["/notes"] = [500]
    admin = bearer(settings, Role.ADMIN, sub="ada")
    async with running(create_notify(settings)) as client:
        created = await client.post(
            "/v1/webhooks",
            json={"url": f"{receiver.url}/notes", "event_types": ["ticket.*"], "include_internal": True},
            headers=admin,
        )
        assert created.status_code == 201, created.text
        webhook_id = created.json()["id"]
        await publish_events(settings, [internal_note("TKT-0711")])
        await eventually(lambda: _async(receiver.at("/notes")), timeout=30)
        patched = await client.patch(
            f"/v1/webhooks/{webhook_id}", json={"include_internal": False}, headers=admin
        )

        async def skipped() -> Any:
            answer = (await client.get(f"/v1/webhooks/{webhook_id}/deliveries", headers=admin)).json()
            item = answer["items"][0]
            return item if item["status"] == "skipped" else None

        delivery = await eventually(skipped, timeout=30)
        resent = await client.post(
            f"/v1/webhooks/{webhook_id}/deliveries/{delivery['id']}/resend", headers=admin
        )
        after = (await client.get(f"/v1/webhooks/{webhook_id}/deliveries", headers=admin)).json()["items"]
    assert patched.status_code == 200, patched.text
    assert "internal" in delivery["last_error"]
    assert all(a["status_code"] == 500 for a in delivery["attempts"]), "no attempt after the change succeeded"
    assert resent.status_code == 409 and "internal" in resent.json()["error"]["message"]
    assert after[0]["status"] == "skipped", "the refused resend left the delivery alone"


def assert_two_failures_then_success(delivery: dict[str, Any]) -> None:
    assert delivery["event_type"] == "ticket.created"
    assert delivery["ref"] == "TKT-0701"
    assert delivery["attempt_count"] == 3
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 200]
    assert [a["outcome"] for a in delivery["attempts"]] == ["retry", "retry", "delivered"]
    assert delivery["attempts"][0]["error"] == "the receiver answered HTTP 500"
    assert all(a["duration_ms"] >= 0 for a in delivery["attempts"])


async def _async(value: Any) -> Any:
    return value


async def test_a_rotated_secret_signs_alongside_the_old_one_during_the_grace_period(infra_env, receiver):
    settings = webhook_settings(infra_env)
    await prepare_topics(settings)
    admin = bearer(settings, Role.ADMIN, sub="ada")
    async with running(create_notify(settings)) as client:
        given = "whsec_" + base64.b64encode(b"k" * 32).decode()
        created = (
            await client.post(
                "/v1/webhooks",
                json={"url": f"{receiver.url}/ping", "event_types": ["*"], "secret": given},
                headers=admin,
            )
        ).json()
        rotated = await client.patch(
            f"/v1/webhooks/{created['id']}", json={"rotate_secret": True}, headers=admin
        )
        ping = await client.post(f"/v1/webhooks/{created['id']}/test", headers=admin)
        [request] = await eventually(lambda: _async(receiver.at("/ping")))
        await publish_events(settings, [ticket_created(ticket_snapshot(ref="TKT-0711"))])
        deliveries = f"/v1/webhooks/{created['id']}/deliveries"

        async def both_delivered() -> Any:
            items = (await client.get(deliveries, headers=admin)).json()["items"]
            return items if [item["status"] for item in items] == ["delivered", "delivered"] else None

        await eventually(both_delivered)
        first_page = (await client.get(f"{deliveries}?limit=1", headers=admin)).json()
        second_page = (
            await client.get(f"{deliveries}?limit=1&cursor={first_page['next_cursor']}", headers=admin)
        ).json()
        bad_cursor = await client.get(f"{deliveries}?cursor=bm9wZQ", headers=admin)
        paused = await client.patch(f"/v1/webhooks/{created['id']}", json={"enabled": False}, headers=admin)
    new_secret = rotated.json()["secret"]
    assert created["secret"] == given
    assert new_secret != given and new_secret.startswith("whsec_")
    assert rotated.json()["previous_secret_signs_until"] is not None
    assert ping.status_code == 202 and json.loads(request.body)["type"] == "webhook.ping"
    assert len(request.headers["webhook-signature"].split()) == 2
    assert verify_signature(new_secret, request.headers, request.body)
    assert verify_signature(given, request.headers, request.body)
    assert paused.json()["enabled"] is False and "secret" not in paused.json()
    assert [item["ref"] for item in first_page["items"]] == ["TKT-0711"], "newest first"
    assert [item["event_type"] for item in second_page["items"]] == ["webhook.ping"]
    assert second_page["items"][0]["id"] == request.headers["webhook-id"]
    assert second_page["next_cursor"] is None
    assert bad_cursor.status_code == 422 and bad_cursor.json()["error"]["code"] == "invalid_cursor"


async def test_a_target_that_keeps_failing_is_disabled_and_the_admins_are_told(infra_env, receiver):
    settings = webhook_settings(
        infra_env, webhook_retry_window_seconds=1.0, webhook_disable_after_failed_deliveries=1
    )
    await prepare_topics(settings)
    receiver.script["/down"] = [500]
    receiver.script["/gone"] = [410]
    admin = bearer(settings, Role.ADMIN, sub="ada")
    async with running(create_notify(settings)) as client:
        down = (
            await client.post(
                "/v1/webhooks",
                json={"url": f"{receiver.url}/down", "event_types": ["ticket.created"]},
                headers=admin,
            )
        ).json()
        gone = (
            await client.post(
                "/v1/webhooks",
                json={"url": f"{receiver.url}/gone", "event_types": ["ticket.created"]},
                headers=admin,
            )
        ).json()
        await publish_events(settings, [ticket_created(ticket_snapshot(ref="TKT-0702"))])

        async def both_disabled() -> Any:
            views = [
                (await client.get(f"/v1/webhooks/{subscription['id']}", headers=admin)).json()
                for subscription in (down, gone)
            ]
            return views if not any(view["enabled"] for view in views) else None

        down_view, gone_view = await eventually(both_disabled, timeout=30)
        [failed] = (await client.get(f"/v1/webhooks/{down['id']}/deliveries", headers=admin)).json()["items"]
        [gone_delivery] = (await client.get(f"/v1/webhooks/{gone['id']}/deliveries", headers=admin)).json()[
            "items"
        ]

        async def admin_notices() -> Any:
            answer = (await client.get("/v1/notifications", headers=admin)).json()
            notices = [item for item in answer["items"] if item["kind"] == "webhook.disabled"]
            return notices if len(notices) == 2 else None

        notices = await eventually(admin_notices)
        manager = (
            await client.get("/v1/notifications", headers=bearer(settings, Role.MANAGER, sub="mia"))
        ).json()
        refused_resend = await client.post(
            f"/v1/webhooks/{down['id']}/deliveries/{failed['id']}/resend", headers=admin
        )
        enabled = (
            await client.patch(f"/v1/webhooks/{down['id']}", json={"enabled": True}, headers=admin)
        ).json()
        records = await read_topic(
            settings.kafka_bootstrap,
            settings.topic(topics.NOTIFY),
            until=lambda found: sum(r.headers["ce_type"] == "notify.webhook_failed" for r in found) >= 2,
        )
    attempts_seen = receiver.at("/down")
    assert down_view["disabled_reason"] == "a delivery failed after every retry"
    assert gone_view["disabled_reason"] == "the receiver answered 410 Gone"
    assert failed["status"] == "failed"
    assert failed["attempt_count"] == len(attempts_seen) >= 2
    assert {a["status_code"] for a in failed["attempts"]} == {500}
    assert gone_delivery["status"] == "failed" and gone_delivery["attempt_count"] == 1
    assert len(receiver.at("/gone")) == 1
    assert sorted(notice["title"] for notice in notices) == sorted(
        [f"Webhook {down['id']} was disabled", f"Webhook {gone['id']} was disabled"]
    )
    assert [item for item in manager["items"] if item["kind"] == "webhook.disabled"] == []
    assert refused_resend.status_code == 409
    assert enabled["enabled"] is True and enabled["disabled_reason"] is None
    assert enabled["consecutive_failed_deliveries"] == 0
    failures = [json.loads(r.value) for r in records if r.headers["ce_type"] == "notify.webhook_failed"]
    assert sorted((f["notification_id"], f["status_code"]) for f in failures) == sorted(
        [(failed["id"], 500), (gone_delivery["id"], 410)]
    )


async def test_targets_on_private_networks_are_refused_and_only_admins_manage_webhooks(infra_env):
    settings = settings_from(infra_env, NotifySettings)  # WEBHOOK_ALLOW_PRIVATE stays false
    await prepare_topics(settings)
    admin = bearer(settings, Role.ADMIN, sub="ada")
    async with running(create_notify(settings)) as client:

        async def create(url: str, headers: dict[str, str] = admin, **fields: Any) -> Any:
            body = {"url": url, "event_types": ["ticket.*"], **fields}
            return await client.post("/v1/webhooks", json=body, headers=headers)

        loopback = await create("http://127.0.0.1:8080/hook")
        metadata = await create("http://169.254.169.254/latest/meta-data")
        by_name = await create("http://localhost:9000/")
        mapped = await create("http://[::ffff:10.0.0.1]/")
        scheme = await create("ftp://example.com/")
        unknown_type = await client.post(
            "/v1/webhooks",
            json={"url": "https://example.com/", "event_types": ["ticket.exploded"]},
            headers=admin,
        )
        bad_secret = await create("https://example.com/", secret="not-a-secret")
        anonymous = await client.post(
            "/v1/webhooks", json={"url": "https://example.com/", "event_types": ["*"]}
        )
        agent = await create("https://example.com/", headers=bearer(settings, Role.AGENT))
        manager = await client.get("/v1/webhooks", headers=bearer(settings, Role.MANAGER))
        missing = await client.get("/v1/webhooks/wh_nope", headers=admin)
        listed = await client.get("/v1/webhooks", headers=admin)
    for answer, reason in [
        (loopback, "127.0.0.1, which is loopback"),
        (metadata, "169.254.169.254, which is link-local"),
        (by_name, "which is loopback"),
        (mapped, "private (RFC 1918)"),
    ]:
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["code"] == "unsafe_target"
        assert reason in answer.json()["error"]["message"]
    assert scheme.status_code == 422 and "https://" in scheme.json()["error"]["message"]
    assert unknown_type.status_code == 422 and unknown_type.json()["error"]["code"] == "invalid_event_types"
    assert bad_secret.status_code == 422 and bad_secret.json()["error"]["code"] == "invalid_secret"
    assert anonymous.status_code == 401
    assert agent.status_code == 403
    assert manager.status_code == 403
    assert missing.status_code == 404
    assert listed.json() == {"items": []}
