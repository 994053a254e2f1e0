"""Benchmark of ingest alone: emails parsed, and accepted over SMTP and over the webhook.

Prints (never asserts), in the same run and on the same machine:
- the raw broker produce rate and the raw database transaction rate (the substrate);
- parse rate in one process (parse, sanitise, build the event: no IO);
- webhook: emails/s answered 202 with HTTP_CONCURRENCY clients, and until all are published;
- SMTP: emails/s answered 250 over SMTP_SESSIONS parallel sessions, and until all are published;
- each accepted rate as a ratio to the raw produce rate (ARCHITECTURE §10: Kafka-only stages).

The mix is realistic: plain replies with quoted history, HTML alternatives, one message in ten
with a 40 KB PDF. Every email has its own sender, so the per-sender loop limit stays out of the way
(its counter is still updated for each email, as in production). BENCH_INGEST_EMAILS sets the count.
"""

from __future__ import annotations

import asyncio
import os
import smtplib
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from tests.bench.substrate import raw_produce_and_consume, raw_transactions
from ticketstream.contracts import topics
from ticketstream.contracts.events import InboundChannel
from ticketstream.devstack.processes import free_port, start_embedded_database, stop_all
from ticketstream.devstack.stack import DevStack
from ticketstream_ingest.domain import message_event, parse_email
from ticketstream_ingest.sanitise import sanitise_html

EMAILS = int(os.environ.get("BENCH_INGEST_EMAILS", "1000"))
HTTP_CONCURRENCY = 16
SMTP_SESSIONS = 4
SUPPORT = "support@ticketstream.local"


@pytest.fixture(scope="module")
def ingest_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    environ = {name: value for name, value in os.environ.items() if not name.startswith("TICKETSTREAM_")}
    environ.update(
        {
            "TICKETSTREAM_SMTP_PORT": str(free_port()),
            "TICKETSTREAM_INGEST_PORT": str(free_port()),
            "TICKETSTREAM_LOG_LEVEL": "WARNING",
        }
    )
    stack = DevStack(state_dir=tmp_path_factory.mktemp("bench-ingest"), environ=environ)
    try:
        stack.start_infrastructure(kafka_port=free_port(), mongo_ports=[free_port() for _ in range(5)])
        stack.create_topics()
        stack.start_services(["ingest"])
        stack.wait_ready(["ingest"], timeout=180)
        yield stack
    finally:
        stack.stop()


def bench_email(tag: str, n: int) -> bytes:
    message = EmailMessage()
    message["From"] = f"Customer {n} <bench.{tag}.{n}@example.com>"
    message["To"] = SUPPORT
    message["Subject"] = f"Re: [TKT-{n:04d}] Export fails {tag}"
    message["Message-ID"] = f"<{tag}.{n}@example.com>"
    message["In-Reply-To"] = f"<out.{n}@ticketstream.local>"
    message["References"] = f"<root.{n}@example.com> <out.{n}@ticketstream.local>"
    text = (
        f"Hello, the export still fails for order {n}.\n\nThanks\nAna\n\n"
        f"On Tue, 3 Mar 2026 at 10:15, Support <{SUPPORT}> wrote:\n"
        + "> Could you try the export again and tell us what you see?\n"
        * 20
    )
    message.set_content(text)
    if n % 3 == 0:
        html = "<p>" + text.replace("\n", "<br>\n") + "</p><script>track()</script>"
        message.add_alternative(html, subtype="html")
    if n % 10 == 0:
        message.add_attachment(
            b"%PDF-1.7\n" + os.urandom(40_000), maintype="application", subtype="pdf", filename="log.pdf"
        )
    return message.as_bytes(policy=policy.SMTP)  # CRLF, as mail clients send it


def parse_rate(emails: list[bytes]) -> float:
    started = time.perf_counter()
    now = datetime.now(UTC)
    for raw in emails:
        parsed = parse_email(raw, support_address=SUPPORT)
        html = sanitise_html(parsed.html_body) if parsed.html_body else None
        message_event(
            parsed, inbound_id="i", channel=InboundChannel.SMTP, now=now, html_body=html, attachments=[]
        )
    return len(emails) / (time.perf_counter() - started)


async def wait_published(stack: DevStack, total: int) -> float:
    """Seconds until the inbound topic holds `total` records, counted by reading them.

    (Counted by consuming: the embedded broker's end offsets can lag the records it serves.)
    """
    settings = stack.settings
    topic = settings.topic(topics.INBOUND)
    started = time.perf_counter()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False, fetch_max_wait_ms=20
    )
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        partitions = consumer.partitions_for_topic(topic) or set()
        consumer.assign([TopicPartition(topic, p) for p in partitions])
        await consumer.seek_to_beginning()
        seen = 0
        deadline = time.monotonic() + 1800
        while seen < total:
            assert time.monotonic() < deadline, f"only {seen} of {total} published"
            for batch in (await consumer.getmany(timeout_ms=200, max_records=5000)).values():
                seen += len(batch)
    finally:
        await consumer.stop()
    return time.perf_counter() - started


async def webhook_rates(stack: DevStack, emails: list[bytes], published_before: int) -> tuple[float, float]:
    url = f"{stack.settings.service_url('ingest')}/v1/inbound/email"
    gate = asyncio.Semaphore(HTTP_CONCURRENCY)
    async with httpx.AsyncClient(timeout=120) as client:

        async def send(raw: bytes) -> None:
            async with gate:
                response = await client.post(url, content=raw, headers={"Content-Type": "message/rfc822"})
                assert response.json()["status"] == "accepted", response.text

        started = time.perf_counter()
        await asyncio.gather(*(send(raw) for raw in emails))
        accepted_in = time.perf_counter() - started
    published_in = accepted_in + await wait_published(stack, published_before + len(emails))
    return len(emails) / accepted_in, len(emails) / published_in


def smtp_session(host: str, port: int, emails: list[bytes]) -> None:
    with smtplib.SMTP(host, port, timeout=60) as smtp:
        for raw in emails:
            assert smtp.sendmail("customer@example.com", [SUPPORT], raw) == {}


async def smtp_rates(stack: DevStack, emails: list[bytes], published_before: int) -> tuple[float, float]:
    host, port = stack.settings.http_host, int(stack.environ["TICKETSTREAM_SMTP_PORT"])
    shares = [emails[i::SMTP_SESSIONS] for i in range(SMTP_SESSIONS)]
    started = time.perf_counter()
    await asyncio.gather(*(asyncio.to_thread(smtp_session, host, port, share) for share in shares))
    accepted_in = time.perf_counter() - started
    published_in = accepted_in + await wait_published(stack, published_before + len(emails))
    return len(emails) / accepted_in, len(emails) / published_in


@pytest.mark.timeout(3600)
def test_ingest_accept_rates(ingest_stack: DevStack, tmp_path: Path) -> None:
    database_port = free_port()
    baseline = start_embedded_database(
        host="127.0.0.1", port=database_port, storage_path=tmp_path / "baseline", log_dir=tmp_path
    )
    try:
        txn_rate = asyncio.run(
            raw_transactions(f"mongodb://127.0.0.1:{database_port}/?directConnection=true")
        )
    finally:
        stop_all([baseline])
    produce_rate, _ = asyncio.run(raw_produce_and_consume(ingest_stack.settings.kafka_bootstrap))
    tag = uuid.uuid4().hex[:6]
    webhook_emails = [bench_email(f"w{tag}", n) for n in range(EMAILS)]
    smtp_emails = [bench_email(f"s{tag}", n) for n in range(EMAILS)]
    parsed_per_second = parse_rate(webhook_emails)
    webhook_accepted, webhook_published = asyncio.run(webhook_rates(ingest_stack, webhook_emails, 0))
    smtp_accepted, smtp_published = asyncio.run(smtp_rates(ingest_stack, smtp_emails, EMAILS))

    print()
    print(f"substrate  raw broker produce        {produce_rate:10.0f} records/s (1 KiB)")
    print(f"substrate  raw db transactions       {txn_rate:10.0f} txn/s (one server, 2 inserts each)")
    print(f"ingest     parsed (one process)      {parsed_per_second:10.0f} emails/s ({EMAILS} emails, no IO)")
    print(
        f"ingest     webhook 202               {webhook_accepted:10.1f} emails/s ({HTTP_CONCURRENCY} clients)"
    )
    print(f"ingest     webhook -> published      {webhook_published:10.1f} emails/s")
    print(f"ingest     SMTP 250                  {smtp_accepted:10.1f} emails/s ({SMTP_SESSIONS} sessions)")
    print(f"ingest     SMTP -> published         {smtp_published:10.1f} emails/s")
    print(f"ratio      webhook 202 / raw produce    {webhook_accepted / produce_rate:8.3%}")
    print(f"ratio      SMTP 250 / raw produce       {smtp_accepted / produce_rate:8.3%}")
    print(f"ratio      webhook 202 / raw db txn     {webhook_accepted / txn_rate:8.3%}")
    print(f"ratio      SMTP 250 / raw db txn        {smtp_accepted / txn_rate:8.3%}")
    assert webhook_published > 0 and smtp_published > 0
