"""Ingest against the real broker and database: webhook and SMTP edges, events, bad input."""

from __future__ import annotations

import asyncio
import json
import smtplib
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.helpers import make_email, prepare_topics, read_topic, running, settings_from
from ticketstream.contracts import parse_event, topics
from ticketstream.contracts.events import InboundMessageReceived
from ticketstream.devstack.processes import free_port
from ticketstream_ingest.app import create_app
from ticketstream_ingest.settings import Settings

RFC822 = {"Content-Type": "message/rfc822"}


@pytest.fixture
def settings(infra_env) -> Settings:
    return settings_from(infra_env, Settings, smtp_port=free_port(), inbound_max_bytes=64 * 1024)


async def test_webhook_accepts_once_and_publishes_a_cloudevent(settings):
    await prepare_topics(settings)
    raw = make_email(
        sender="Ana Lima <Ana@Example.com>", subject="Login fails", message_id="<m1@example.com>"
    )
    async with running(create_app(settings)) as client:
        first = await client.post("/v1/inbound/email", content=raw, headers=RFC822)
        again = await client.post("/v1/inbound/email", content=raw, headers=RFC822)
    assert first.status_code == 202
    assert first.json()["status"] == "accepted"
    assert again.status_code == 200
    assert again.json() == {
        "status": "duplicate",
        "inbound_id": first.json()["inbound_id"],
        "message_id": "<m1@example.com>",
        "reason": "this message was received before",
    }
    records = await read_topic(
        settings.kafka_bootstrap, settings.topic(topics.INBOUND), until=lambda r: len(r) >= 1
    )
    assert len(records) == 1
    headers = records[0].headers
    assert headers["ce_specversion"] == "1.0"
    assert headers["ce_type"] == "inbound.message.received"
    assert headers["ce_source"] == "/ticketstream/ingest"
    assert headers["content-type"] == "application/json"
    assert headers["traceparent"].startswith("00-")
    event = parse_event(headers, records[0].value).data
    assert isinstance(event, InboundMessageReceived)
    assert event.sender.email == "ana@example.com"
    assert event.subject == "Login fails"
    assert event.email_thread_id == "<m1@example.com>"
    assert records[0].key == "<m1@example.com>"


@pytest.mark.parametrize(
    ("body", "content_type", "status", "reason"),
    [
        (b"", "message/rfc822", 422, "the message is empty"),
        (b"just some words, no headers at all", "message/rfc822", 422, "does not start with headers"),
        (b"From: x@example.com\r\n\r\nhi", "application/json", 415, "message/rfc822"),
        (b"From: x@example.com\r\n\r\n" + b"a" * (70 * 1024), "message/rfc822", 413, "larger than the limit"),
    ],
)
async def test_webhook_refuses_bad_input_with_a_reason(settings, body, content_type, status, reason):
    async with running(create_app(settings)) as client:
        response = await client.post(
            "/v1/inbound/email", content=body, headers={"Content-Type": content_type}
        )
    assert response.status_code == status
    assert reason in response.json()["error"]["message"]


async def test_smtp_accepts_support_mail_and_rejects_other_recipients_and_oversize(settings):
    await prepare_topics(settings)
    raw = make_email(
        to="support+TKT-0042@ticketstream.local", subject="Via SMTP", message_id="<s1@example.com>"
    )

    def converse() -> None:
        # smtplib blocks, so it talks to the in-process listener from a worker thread.
        with smtplib.SMTP(settings.http_host, settings.smtp_port, timeout=10) as smtp:
            assert smtp.sendmail("robin@example.com", ["support+TKT-0042@ticketstream.local"], raw) == {}
            with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
                smtp.sendmail("robin@example.com", ["sales@ticketstream.local"], raw)
            assert refused.value.recipients["sales@ticketstream.local"][0] == 550
            # smtplib announces SIZE, so the refusal comes at MAIL FROM rather than after DATA.
            with pytest.raises(smtplib.SMTPSenderRefused) as too_big:
                smtp.sendmail("robin@example.com", ["support@ticketstream.local"], raw + b"x" * (80 * 1024))
            assert too_big.value.smtp_code == 552

    async with running(create_app(settings)):
        await asyncio.to_thread(converse)
    records = await read_topic(
        settings.kafka_bootstrap, settings.topic(topics.INBOUND), until=lambda r: len(r) >= 1
    )
    assert [json.loads(r.value)["subject"] for r in records] == ["Via SMTP"]
    assert json.loads(records[0].value)["channel"] == "SMTP"


async def test_health_ready_metrics_and_unknown_routes(settings):
    async with running(create_app(settings)) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok", "service": "ingest"}
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"database": "ok", "broker": "ok", "consumers": "ok"}
        metrics = (await client.get("/metrics")).text
        assert "ticketstream_http_request_duration_seconds" in metrics
        assert "ticketstream_outbox_backlog_records" in metrics
        missing = await client.get("/v1/nowhere")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "not_found"


async def test_readyz_is_503_until_the_database_answers(infra_env):
    settings = settings_from(
        infra_env,
        Settings,
        smtp_port=0,
        mongo_url=f"mongodb://127.0.0.1:{free_port()}/?serverSelectionTimeoutMS=300",
    )
    import httpx

    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as client,
    ):
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"].startswith("unreachable")
    assert response.json()["checks"]["consumers"] == "starting"


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A throwaway certificate and key for the SMTP listener's STARTTLS."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ticketstream.local")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "smtp.pem", directory / "smtp.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


async def test_smtp_offers_starttls_when_a_certificate_is_configured(infra_env, tmp_path):
    cert_file, key_file = self_signed_certificate(tmp_path)
    settings = settings_from(
        infra_env,
        Settings,
        smtp_port=free_port(),
        smtp_tls_cert_file=str(cert_file),
        smtp_tls_key_file=str(key_file),
    )
    await prepare_topics(settings)
    raw = make_email(subject="Over TLS", message_id="<tls1@example.com>")

    def converse() -> tuple[bool, bool]:
        with smtplib.SMTP(settings.http_host, settings.smtp_port, timeout=10) as smtp:
            smtp.ehlo()
            offered = smtp.has_extn("starttls")
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE  # the test's own self-signed certificate
            smtp.starttls(context=context)
            smtp.ehlo()
            encrypted = isinstance(smtp.sock, ssl.SSLSocket)
            assert smtp.sendmail("robin@example.com", ["support@ticketstream.local"], raw) == {}
        return offered, encrypted

    async with running(create_app(settings)):
        offered, encrypted = await asyncio.to_thread(converse)
    records = await read_topic(
        settings.kafka_bootstrap, settings.topic(topics.INBOUND), until=lambda r: len(r) >= 1
    )
    assert (offered, encrypted) == (True, True)
    assert [json.loads(r.value)["subject"] for r in records] == ["Over TLS"]
