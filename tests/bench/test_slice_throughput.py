"""Benchmarks of the slice on the embedded stack, next to substrate baselines.

Prints (never asserts) figures measured in the same run on the same machine:
- raw broker produce and consume rates (1 KiB records, aiokafka);
- raw database transaction rate (two inserts per transaction, one embedded server);
- Ticketstream: webhook accept rate, and end-to-end emails/s from the first accepted email to the
  last `ticket.created` consumed, with its ratio to each baseline (ARCHITECTURE §10);
- latency from an email sent over SMTP to its ticket listed by GET /v1/tickets, one at a time.

Run with `make bench`. BENCH_EMAILS overrides the email count.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from tests.bench.substrate import raw_produce_and_consume, raw_transactions
from tests.helpers import bearer, eventually, make_email
from ticketstream.contracts import topics
from ticketstream.devstack.processes import (
    SERVICE_NAMES,
    free_port,
    start_embedded_database,
    stop_all,
)
from ticketstream.devstack.stack import DevStack

EMAILS = int(os.environ.get("BENCH_EMAILS", "2000"))
HTTP_CONCURRENCY = 16


@pytest.fixture(scope="module")
def embedded_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    environ = {name: value for name, value in os.environ.items() if not name.startswith("TICKETSTREAM_")}
    environ["TICKETSTREAM_SMTP_PORT"] = str(free_port())
    environ["TICKETSTREAM_LOG_LEVEL"] = "WARNING"
    environ.update({f"TICKETSTREAM_{name.upper()}_PORT": str(free_port()) for name in SERVICE_NAMES})
    stack = DevStack(state_dir=tmp_path_factory.mktemp("bench"), environ=environ)
    try:
        stack.start_infrastructure(kafka_port=free_port(), mongo_ports=[free_port() for _ in SERVICE_NAMES])
        stack.create_topics()
        stack.start_services()
        stack.wait_ready(timeout=180)
        yield stack
    finally:
        stack.stop()


async def push_emails(stack: DevStack, tag: str) -> tuple[float, float]:
    """Return (accept rate, end-to-end rate) for EMAILS emails."""
    settings = stack.settings
    tickets_topic = settings.topic(topics.TICKETS)
    consumer = AIOKafkaConsumer(
        tickets_topic,
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="latest",
        fetch_max_wait_ms=20,
        group_id=f"bench-{tag}",
    )
    await consumer.start()
    await eventually(lambda: _assigned(consumer), timeout=30)
    emails = [make_email(sender=f"bench{i}@example.com", subject=f"{tag} {i}") for i in range(EMAILS)]
    gate = asyncio.Semaphore(HTTP_CONCURRENCY)
    seen: set[str] = set()

    async def consume_created() -> None:
        while len(seen) < EMAILS:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                for record in batch:
                    headers = dict(record.headers)
                    if headers.get("ce_type") == b"ticket.created":
                        title = json.loads(record.value)["ticket"]["title"]
                        if title.startswith(tag):
                            seen.add(title)

    async with httpx.AsyncClient(timeout=60) as client:

        async def send(raw: bytes) -> None:
            async with gate:
                response = await client.post(
                    f"{settings.service_url('ingest')}/v1/inbound/email",
                    content=raw,
                    headers={"Content-Type": "message/rfc822"},
                )
                assert response.status_code == 202

        consuming = asyncio.create_task(consume_created())
        started = time.perf_counter()
        await asyncio.gather(*(send(raw) for raw in emails))
        accepted_in = time.perf_counter() - started
        await asyncio.wait_for(consuming, timeout=1800)
        end_to_end_in = time.perf_counter() - started
    await consumer.stop()
    assert len(seen) == EMAILS
    return EMAILS / accepted_in, EMAILS / end_to_end_in


async def _assigned(consumer: AIOKafkaConsumer) -> bool:
    return bool(consumer.assignment())


@pytest.mark.timeout(3600)
def test_email_to_ticket_throughput(embedded_stack: DevStack, tmp_path: Path) -> None:
    database_port = free_port()
    baseline_database = start_embedded_database(
        host="127.0.0.1", port=database_port, storage_path=tmp_path / "baseline", log_dir=tmp_path
    )
    try:
        txn_rate = asyncio.run(
            raw_transactions(f"mongodb://127.0.0.1:{database_port}/?directConnection=true")
        )
    finally:
        stop_all([baseline_database])
    produce_rate, consume_rate = asyncio.run(raw_produce_and_consume(embedded_stack.settings.kafka_bootstrap))
    accept_rate, end_to_end_rate = asyncio.run(push_emails(embedded_stack, f"bench-{uuid.uuid4().hex[:6]}"))

    print()
    print(f"substrate  raw broker produce      {produce_rate:10.0f} records/s (1 KiB)")
    print(f"substrate  raw broker consume      {consume_rate:10.0f} records/s")
    print(f"substrate  raw db transactions     {txn_rate:10.0f} txn/s (one server, 2 inserts each)")
    print(f"slice      webhook accepted        {accept_rate:10.1f} emails/s ({EMAILS} emails)")
    print(f"slice      email -> ticket.created {end_to_end_rate:10.1f} emails/s end to end")
    print(f"ratio      end to end / raw produce   {end_to_end_rate / produce_rate:8.3%}")
    print(f"ratio      end to end / raw db txn    {end_to_end_rate / txn_rate:8.3%}")
    assert end_to_end_rate > 0


LATENCY_SAMPLES = int(os.environ.get("BENCH_LATENCY_SAMPLES", "30"))


async def smtp_to_visible_latencies(stack: DevStack) -> list[float]:
    import smtplib

    settings = stack.settings
    smtp_port = int(stack.environ["TICKETSTREAM_SMTP_PORT"])
    headers = bearer(settings)
    latencies = []
    async with httpx.AsyncClient(timeout=30) as client:
        for index in range(LATENCY_SAMPLES):
            subject = f"latency {uuid.uuid4().hex[:8]} {index}"
            raw = make_email(subject=subject)
            started = time.perf_counter()
            with smtplib.SMTP(settings.http_host, smtp_port, timeout=10) as smtp:
                smtp.sendmail("customer@example.com", ["support@ticketstream.local"], raw)
            while True:
                page = await client.get(
                    f"{settings.service_url('tickets')}/v1/tickets?limit=5", headers=headers
                )
                if any(ticket["title"] == subject for ticket in page.json()["items"]):
                    break
                await asyncio.sleep(0.005)
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.2)
    return sorted(latencies)


@pytest.mark.timeout(1800)
def test_email_to_visible_ticket_latency(embedded_stack: DevStack) -> None:
    latencies = asyncio.run(smtp_to_visible_latencies(embedded_stack))
    p50 = latencies[len(latencies) // 2]
    p95 = latencies[min(int(len(latencies) * 0.95), len(latencies) - 1)]
    print()
    print(
        f"latency    SMTP 250 -> listed by GET /v1/tickets ({len(latencies)} emails, one at a time): "
        f"p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms"
    )
    assert len(latencies) == LATENCY_SAMPLES
