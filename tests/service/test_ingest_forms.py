"""Ingest's non-email channels against the real broker and database: the portal form (JSON and
multipart with files), request status learnt from ticket.created, rate limits, chat transcripts
and the satisfaction survey."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.helpers import (
    Record,
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
from ticketstream.contracts import parse_event, topics
from ticketstream.contracts.events import (
    ChatAuthorRole,
    ChatLine,
    InboundChannel,
    InboundCsatSubmitted,
    InboundMessageReceived,
)
from ticketstream.contracts.models import Csat, Person, Priority, TicketType
from ticketstream.csat_tokens import issue_csat_token, token_id_of
from ticketstream_ingest.app import create_app
from ticketstream_ingest.settings import Settings
from ticketstream_ingest.signatures import webhook_signature

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4


@pytest.fixture
def settings(infra_env) -> Settings:
    return settings_from(
        infra_env,
        Settings,
        smtp_port=0,
        portal_attachment_max_bytes=4096,
        portal_attachments_max_bytes=6000,
        portal_attachments_max_count=2,
        portal_rate_per_hour=100,
        portal_rate_per_ip_per_hour=100,
    )


def unique_email(name: str = "robin") -> str:
    return f"{name}.{uuid.uuid4().hex[:8]}@example.com"


def inbound_events(records: list[Record]) -> list[Any]:
    return [parse_event(record.headers, record.value).data for record in records]


async def read_inbound(settings: Settings, count: int, *, of_type: str | None = None) -> list[Record]:
    def enough(records: list[Record]) -> bool:
        wanted = [r for r in records if of_type is None or r.headers["ce_type"] == of_type]
        return len(wanted) >= count

    records = await read_topic(settings.kafka_bootstrap, settings.topic(topics.INBOUND), until=enough)
    return [r for r in records if of_type is None or r.headers["ce_type"] == of_type]


# --- portal ------------------------------------------------------------------------------------


async def test_portal_json_request_is_published_and_its_status_follows_the_ticket(settings):
    await prepare_topics(settings)
    email = unique_email("ana")
    app = create_app(settings)
    async with running(app) as client:
        answer = await client.post(
            "/v1/inbound/portal",
            json={
                "email": email.upper(),
                "name": "Ana Lima",
                "subject": "  Export\n fails ",
                "description": "The CSV export stops at 10%.\nEvery time.",
                "priority": "high",
                "type": "bug",
                "category": "Reports",
            },
        )
        assert answer.status_code == 202, answer.text
        request_id = answer.json()["request_id"]
        assert answer.json() == {"request_id": request_id, "status": "pending"}

        [record] = await read_inbound(settings, 1)
        event = parse_event(record.headers, record.value).data
        assert isinstance(event, InboundMessageReceived)
        message_id = f"<portal-{request_id}@ticketstream.local>"
        assert record.key == message_id
        assert record.headers["ce_type"] == "inbound.message.received"
        assert record.headers["ce_source"] == "/ticketstream/ingest"
        assert event.model_dump(exclude={"received_at"}) == InboundMessageReceived(
            inbound_id=request_id,
            channel=InboundChannel.PORTAL,
            message_id=message_id,
            email_thread_id=message_id,
            sender=Person(email=email, name="Ana Lima"),
            subject="Export fails",
            text_body="The CSV export stops at 10%.\nEvery time.",
            received_at=event.received_at,
            sender_domain="example.com",
            priority=Priority.HIGH,
            ticket_type=TicketType.BUG,
            category="Reports",
        ).model_dump(exclude={"received_at"})

        status_url = f"/v1/inbound/requests/{request_id}"
        assert (await client.get(status_url)).json() == {"request_id": request_id, "status": "pending"}

        # An email ticket first (not ours), then the portal ticket, delivered twice.
        email_ticket = ticket_created(ticket_snapshot(ref="TKT-0041", thread="<other@example.com>"))
        portal_ticket = ticket_created(ticket_snapshot(ref="TKT-0042", source="PORTAL", thread=message_id))
        await publish_events(
            settings, [email_ticket, portal_ticket, portal_ticket], event_ids=["e1", "e2", "e2"]
        )

        async def created() -> dict[str, Any] | None:
            body = (await client.get(status_url)).json()
            return body if body["status"] == "created" else None

        assert await eventually(created) == {"request_id": request_id, "status": "created", "ref": "TKT-0042"}
        state = await app.state.request_store.request_state(request_id)
        assert state.ticket_id == portal_ticket.ticket_id

        missing = await client.get(f"/v1/inbound/requests/{uuid.uuid4()}")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "not_found"


async def test_portal_multipart_request_stores_its_files_under_safe_names(settings):
    await prepare_topics(settings)
    email = unique_email()
    app = create_app(settings)
    async with running(app) as client:
        answer = await client.post(
            "/v1/inbound/portal",
            data={"email": email, "subject": "Screenshot of the error", "description": "See attached."},
            files=[
                ("attachments", ("../../etc/passwd.pdf", PNG, "application/pdf")),
                (
                    "attachments",
                    ("C:\\Users\\robin\\notes\u202e.txt", b"steps:\n1. log in\n", "application/octet-stream"),
                ),
            ],
        )
        assert answer.status_code == 202, answer.text
        request_id = answer.json()["request_id"]

        [record] = await read_inbound(settings, 1)
        event = parse_event(record.headers, record.value).data
        assert isinstance(event, InboundMessageReceived)
        assert event.inbound_id == request_id
        assert event.channel is InboundChannel.PORTAL
        assert (event.priority, event.ticket_type, event.category) == (None, None, None)
        assert [(a.filename, a.content_type, a.size) for a in event.attachments] == [
            ("passwd.pdf", "image/png", len(PNG)),
            ("notes.txt", "text/plain", 17),
        ]
        staff = bearer(settings, Role.AGENT)
        first = await client.get(f"/v1/attachments/{event.attachments[0].storage_id}", headers=staff)
        second = await client.get(f"/v1/attachments/{event.attachments[1].storage_id}", headers=staff)
        missing = await client.get("/v1/attachments/no-such-file", headers=staff)
        anonymous = await client.get(f"/v1/attachments/{event.attachments[0].storage_id}")
        assert (first.content, first.headers["content-type"]) == (PNG, "image/png")
        assert first.headers["content-disposition"] == 'attachment; filename="passwd.pdf"'
        assert first.headers["x-content-type-options"] == "nosniff"
        assert second.content == b"steps:\n1. log in\n"
        assert missing.status_code == 404
        assert anonymous.status_code == 401


@pytest.mark.parametrize(
    ("files", "status", "message"),
    [
        (
            [("attachments", ("big.bin", b"x" * 4097, "application/octet-stream"))],
            413,
            "attachment 'big.bin' is 4097 bytes; the limit per file is 4096 bytes",
        ),
        # Two files of 3000 bytes fit the 6000-byte budget exactly.
        ([("attachments", (f"part{n}.txt", b"y" * 3000, "text/plain")) for n in range(2)], 202, None),
        (
            [("attachments", (f"f{n}.txt", b"z", "text/plain")) for n in range(3)],
            422,
            "at most 2 attachments per request (got 3)",
        ),
        (
            [("upload", ("f.txt", b"z", "text/plain"))],
            422,
            "upload: files are accepted only in the 'attachments' field",
        ),
    ],
)
async def test_portal_attachment_limits_are_clear_refusals(settings, files, status, message):
    async with running(create_app(settings)) as client:
        answer = await client.post(
            "/v1/inbound/portal",
            data={"email": unique_email(), "subject": "Files", "description": "Attached."},
            files=files,
        )
    assert answer.status_code == status, answer.text
    if message is not None:
        assert answer.json()["error"]["message"] == message


async def test_portal_refuses_oversize_unknown_and_invalid_bodies_with_reasons(settings):
    async with running(create_app(settings)) as client:
        too_much = await client.post(
            "/v1/inbound/portal",
            data={"email": unique_email(), "subject": "Files", "description": "Attached."},
            files=[("attachments", ("a.bin", b"a" * 4000, "application/octet-stream")) for _ in range(2)],
        )
        wrong_type = await client.post(
            "/v1/inbound/portal", content=b"hello", headers={"Content-Type": "text/plain"}
        )
        invalid = await client.post(
            "/v1/inbound/portal",
            json={"email": "not an address", "subject": "", "description": "x", "priority": "soon"},
        )
        huge = await client.post(
            "/v1/inbound/portal",
            data={"email": unique_email(), "subject": "s", "description": "d"},
            files=[("attachments", ("big", b"b" * 400_000, "application/octet-stream"))],
        )
    assert too_much.status_code == 413
    assert too_much.json()["error"]["message"] == (
        "the attachments add up to 8000 bytes; the limit per request is 6000 bytes"
    )
    assert wrong_type.status_code == 415
    assert "application/json or multipart/form-data" in wrong_type.json()["error"]["message"]
    assert invalid.status_code == 422
    locations = {tuple(item["location"]) for item in invalid.json()["error"]["details"]}
    assert locations == {("body", "email"), ("body", "subject"), ("body", "priority")}
    assert huge.status_code == 413
    assert (
        huge.json()["error"]["message"]
        == f"the request is larger than the limit of {6000 + 256 * 1024} bytes"
    )


async def test_portal_rate_limits_per_email_and_per_address(infra_env):
    settings = settings_from(
        infra_env, Settings, smtp_port=0, portal_rate_per_hour=2, portal_rate_per_ip_per_hour=3
    )
    await prepare_topics(settings)
    first, second = unique_email("first"), unique_email("second")

    def form(email: str) -> dict[str, str]:
        return {"email": email, "subject": "Help", "description": "Please."}

    async with running(create_app(settings)) as client:
        accepted = [await client.post("/v1/inbound/portal", json=form(first)) for _ in range(2)]
        by_email = await client.post("/v1/inbound/portal", json=form(first.upper()))
        other_sender = await client.post("/v1/inbound/portal", json=form(second))
        by_address = await client.post("/v1/inbound/portal", json=form(unique_email("third")))
        # X-Forwarded-For is not believed without trusted proxies: still the same client.
        spoofed = await client.post(
            "/v1/inbound/portal",
            json=form(unique_email("fourth")),
            headers={"X-Forwarded-For": "203.0.113.9"},
        )
    assert [response.status_code for response in accepted] == [202, 202]
    assert by_email.status_code == 429
    assert by_email.json()["error"] == {
        "code": "rate_limited",
        "message": "too many requests from this email address: at most 2 per hour; try again later",
        "details": {"scope": "sender", "retry_after_seconds": int(by_email.headers["Retry-After"])},
    }
    assert 1 <= int(by_email.headers["Retry-After"]) <= 2 * 3600
    assert other_sender.status_code == 202
    assert by_address.status_code == 429
    assert by_address.json()["error"]["details"]["scope"] == "address"
    assert by_address.json()["error"]["message"] == (
        "too many requests from this network address: at most 3 per hour; try again later"
    )
    assert spoofed.status_code == 429
    # Refused requests publish nothing: exactly the three accepted ones are on the topic.
    records = await read_inbound(settings, 3)
    assert sorted(json.loads(r.value)["sender"]["email"] for r in records) == sorted([first, first, second])


# --- chat --------------------------------------------------------------------------------------


async def test_chat_transcript_becomes_an_event_and_follows_the_ticket(settings):
    await prepare_topics(settings)
    email = unique_email("kim")
    started = datetime.now(UTC) - timedelta(minutes=5)
    transcript = [
        {
            "author_role": "bot",
            "author_name": "Helper",
            "text": "Hi! What can I do?",
            "sent_at": started.isoformat(),
        },
        {
            "author_role": "customer",
            "text": "My card was declined at checkout",
            "sent_at": (started + timedelta(minutes=1)).isoformat(),
        },
        {
            "author_role": "agent",
            "author_name": "Alice",
            "text": "Let me check that for you.",
            "sent_at": (started + timedelta(minutes=2)).isoformat(),
        },
    ]
    async with running(create_app(settings)) as client:
        answer = await client.post(
            "/v1/inbound/chat", json={"email": email, "name": "Kim", "transcript": transcript}
        )
        assert answer.status_code == 202, answer.text
        request_id = answer.json()["request_id"]
        assert answer.json()["status"] == "pending"

        [record] = await read_inbound(settings, 1)
        event = parse_event(record.headers, record.value).data
        assert isinstance(event, InboundMessageReceived)
        message_id = f"<chat-{request_id}@ticketstream.local>"
        assert (event.channel, event.message_id, event.email_thread_id, record.key) == (
            InboundChannel.CHAT,
            message_id,
            message_id,
            message_id,
        )
        assert event.sender == Person(email=email, name="Kim")
        assert event.subject == "My card was declined at checkout"
        assert event.transcript == [
            ChatLine(
                author_role=ChatAuthorRole.BOT,
                author_name="Helper",
                text="Hi! What can I do?",
                sent_at=started,
            ),
            ChatLine(
                author_role=ChatAuthorRole.CUSTOMER,
                text="My card was declined at checkout",
                sent_at=started + timedelta(minutes=1),
            ),
            ChatLine(
                author_role=ChatAuthorRole.AGENT,
                author_name="Alice",
                text="Let me check that for you.",
                sent_at=started + timedelta(minutes=2),
            ),
        ]
        assert "Kim" not in event.text_body  # the customer line has no author name: its role names it
        assert event.text_body.startswith("Helper (bot), ")

        await publish_events(
            settings, [ticket_created(ticket_snapshot(ref="TKT-0100", source="CHAT", thread=message_id))]
        )

        async def created() -> dict[str, Any] | None:
            body = (await client.get(f"/v1/inbound/requests/{request_id}")).json()
            return body if body["status"] == "created" else None

        assert await eventually(created) == {"request_id": request_id, "status": "created", "ref": "TKT-0100"}


async def test_unusable_chat_transcripts_are_refused_with_the_line_at_fault(settings):
    now = datetime.now(UTC)
    agent_only = [{"author_role": "agent", "text": "Anyone there?", "sent_at": now.isoformat()}]
    from_the_future = [
        {"author_role": "customer", "text": "hello", "sent_at": (now + timedelta(hours=2)).isoformat()}
    ]
    async with running(create_app(settings)) as client:
        no_customer = await client.post(
            "/v1/inbound/chat", json={"email": unique_email(), "transcript": agent_only}
        )
        future = await client.post(
            "/v1/inbound/chat", json={"email": unique_email(), "transcript": from_the_future}
        )
        empty = await client.post("/v1/inbound/chat", json={"email": unique_email(), "transcript": []})
        not_json = await client.post("/v1/inbound/chat", data={"email": unique_email()})
    assert no_customer.status_code == 422
    assert no_customer.json()["error"]["message"] == "the transcript has no line written by the customer"
    assert future.status_code == 422
    assert future.json()["error"]["details"][0]["location"] == ["body", "transcript", "0", "sent_at"]
    assert empty.status_code == 422
    assert empty.json()["error"]["details"][0]["location"] == ["body", "transcript"]
    assert not_json.status_code == 415


async def test_with_a_chat_secret_only_signed_transcripts_are_taken(infra_env):
    settings = settings_from(infra_env, Settings, smtp_port=0, chat_secret="chat-widget-secret-1")
    await prepare_topics(settings)
    now = datetime.now(UTC)
    body = json.dumps(
        {
            "email": unique_email(),
            "transcript": [
                {"author_role": "customer", "text": "My order is late", "sent_at": now.isoformat()},
                {"author_role": "agent", "text": "Looking into it", "sent_at": now.isoformat()},
            ],
        }
    ).encode()
    stamp = str(int(now.timestamp()))
    signed = {
        "Content-Type": "application/json",
        "X-Ticketstream-Timestamp": stamp,
        "X-Ticketstream-Signature": webhook_signature("chat-widget-secret-1", timestamp=stamp, body=body),
    }
    async with running(create_app(settings)) as client:
        unsigned = await client.post(
            "/v1/inbound/chat", content=body, headers={"Content-Type": "application/json"}
        )
        forged = await client.post(
            "/v1/inbound/chat",
            content=body,
            headers={
                **signed,
                "X-Ticketstream-Signature": webhook_signature("guess", timestamp=stamp, body=body),
            },
        )
        accepted = await client.post("/v1/inbound/chat", content=body, headers=signed)
    assert unsigned.status_code == 401
    assert "not signed" in unsigned.json()["error"]["message"]
    assert forged.status_code == 401
    assert forged.json()["error"]["message"].endswith("the signature does not match the body")
    assert accepted.status_code == 202
    [record] = await read_inbound(settings, 1)
    assert inbound_events([record])[0].channel is InboundChannel.CHAT


# --- satisfaction survey -------------------------------------------------------------------------


def survey_token(settings: Settings, *, ticket_id: str, ref: str, issued: datetime | None = None) -> str:
    return issue_csat_token(
        ticket_id=ticket_id,
        ref=ref,
        secret=settings.jwt_secret,
        now=issued or datetime.now(UTC),
        ttl=timedelta(days=7),
    )


async def test_survey_page_answers_replace_each_other_and_a_repeat_publishes_nothing(settings):
    await prepare_topics(settings)
    ticket_id = str(uuid.uuid4())
    token = survey_token(settings, ticket_id=ticket_id, ref="TKT-0042")
    async with running(create_app(settings)) as client:
        page = await client.get(f"/v1/csat/{token}")
        assert page.status_code == 200
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert page.headers["content-security-policy"].startswith("default-src 'none'")
        assert page.headers["referrer-policy"] == "no-referrer"
        assert "How did we do on TKT-0042?" in page.text
        assert [f'value="{score}"' in page.text for score in range(1, 6)] == [True] * 5
        assert "checked" not in page.text

        first = await client.post(f"/v1/csat/{token}", json={"score": 4, "comment": "Quick <b>answer</b>"})
        changed = await client.post(f"/v1/csat/{token}", json={"score": 2, "comment": "It broke again"})
        repeated = await client.post(f"/v1/csat/{token}", json={"score": 2, "comment": " It broke again "})
        assert (first.status_code, first.json()["status"]) == (202, "recorded")
        assert (changed.status_code, changed.json()) == (
            202,
            {"status": "updated", "ref": "TKT-0042", "score": 2, "comment": "It broke again"},
        )
        assert (repeated.status_code, repeated.json()["status"]) == (200, "unchanged")

        reopened = await client.get(f"/v1/csat/{token}")
        assert 'value="2" required checked' in reopened.text
        assert ">It broke again</textarea>" in reopened.text

        # A later survey of the same ticket, answered from the page (form-encoded): its event comes
        # after the others on the ticket's partition, so anything the repeat had published would too.
        later = survey_token(
            settings, ticket_id=ticket_id, ref="TKT-0042", issued=datetime.now(UTC) + timedelta(seconds=1)
        )
        from_page = await client.post(
            f"/v1/csat/{later}", data={"score": "5", "comment": "<script>alert(1)</script>"}
        )
        assert from_page.status_code == 200
        assert "Thank you" in from_page.text
        assert "<script>" not in (await client.get(f"/v1/csat/{later}")).text

    records = await read_inbound(settings, 3, of_type="inbound.csat.submitted")
    events = inbound_events(records)
    assert [record.key for record in records] == [ticket_id] * 3
    assert [record.headers["ce_subject"] for record in records] == ["TKT-0042"] * 3
    assert all(isinstance(event, InboundCsatSubmitted) for event in events)
    assert [event.csat for event in events] == [
        Csat(score=4, comment="Quick <b>answer</b>"),
        Csat(score=2, comment="It broke again"),
        Csat(score=5, comment="<script>alert(1)</script>"),
    ]
    assert {event.ticket_id for event in events} == {ticket_id}


async def test_survey_refuses_tampered_expired_and_invalid_answers(settings):
    ticket_id = str(uuid.uuid4())
    token = survey_token(settings, ticket_id=ticket_id, ref="TKT-<b>7</b>")
    header, payload, signature = token.split(".")
    tampered = f"{header}.{payload}.{signature[:10]}{'A' if signature[10] != 'A' else 'B'}{signature[11:]}"
    expired = survey_token(
        settings, ticket_id=ticket_id, ref="TKT-0007", issued=datetime.now(UTC) - timedelta(days=30)
    )
    app = create_app(settings)
    async with running(app) as client:
        escaped = await client.get(f"/v1/csat/{token}")
        tampered_get = await client.get(f"/v1/csat/{tampered}")
        tampered_post = await client.post(f"/v1/csat/{tampered}", json={"score": 5})
        tampered_page = await client.get(f"/v1/csat/{tampered}", headers={"Accept": "text/html"})
        expired_get = await client.get(f"/v1/csat/{expired}")
        expired_form = await client.post(f"/v1/csat/{expired}", data={"score": "3"})
        bad_score = await client.post(f"/v1/csat/{token}", json={"score": 9})
        no_score_form = await client.post(f"/v1/csat/{token}", data={"comment": "hm"})
        long_comment = await client.post(f"/v1/csat/{token}", json={"score": 3, "comment": "x" * 2001})
        wrong_type = await client.post(
            f"/v1/csat/{token}", content=b"5", headers={"Content-Type": "text/plain"}
        )
        stored = await app.state.csat_store.answer(token_id_of(token))
    assert "How did we do on TKT-&lt;b&gt;7&lt;/b&gt;?" in escaped.text
    assert "<b>7</b>" not in escaped.text
    assert tampered_get.status_code == 404
    assert tampered_get.json()["error"] == {
        "code": "not_found",
        "message": "this survey link is not valid",
        "details": None,
    }
    assert tampered_post.status_code == 404
    assert tampered_page.status_code == 404
    assert "This survey is not available" in tampered_page.text
    assert expired_get.status_code == 410
    assert expired_get.json()["error"]["code"] == "survey_expired"
    assert expired_form.status_code == 410
    assert "the link has expired" in expired_form.text
    assert bad_score.status_code == 422
    assert bad_score.json()["error"]["details"][0]["location"] == ["body", "score"]
    assert no_score_form.status_code == 422
    assert "choose a score from 1 to 5" in no_score_form.text
    assert long_comment.status_code == 422
    assert wrong_type.status_code == 415
    assert stored is None
