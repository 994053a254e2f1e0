"""Benchmark of notify on the embedded broker and database, next to substrate baselines.

Prints (never asserts) figures measured in the same run on the same machine:
- raw broker produce and consume rates, and the raw database transaction rate (tests/bench/substrate.py);
- events processed: BENCH_NOTIFY_EVENTS `ticket.created` events published at once, from the first
  publish until every in-app notification and acknowledgement mail is stored (each event is one
  transaction: inbox claim, ticket copy, notification, mail);
- email sent: BENCH_NOTIFY_MAILS pending mails to distinct addresses (seeded with insert_many, so
  the budget holds none), from the dispatcher's wake-up until a local SMTP catcher has them all
  (each mail: claim, suppression and budget checks, SMTP transaction, delivery report in the outbox);
- a storm: BENCH_NOTIFY_STORM mails to one address, and how many messages reach it.

Run with `.venv/bin/python -m pytest tests/bench/test_notify_throughput.py -s -p no:randomly`.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.bench.substrate import raw_produce_and_consume, raw_transactions
from tests.helpers import (
    eventually,
    prepare_topics,
    publish_events,
    running,
    settings_from,
    ticket_created,
    ticket_snapshot,
)
from tests.service.test_sla_notify_analytics import smtp_relay  # noqa: F401 - a fixture
from ticketstream_notify.app import create_app as create_notify
from ticketstream_notify.domain import OutgoingEmail
from ticketstream_notify.settings import Settings as NotifySettings

EVENTS = int(os.environ.get("BENCH_NOTIFY_EVENTS", "1000"))
MAILS = int(os.environ.get("BENCH_NOTIFY_MAILS", "500"))
STORM = int(os.environ.get("BENCH_NOTIFY_STORM", "1000"))
SEED_BATCH = 500


def pending_mail(to: str, n: int) -> dict[str, Any]:
    now = datetime.now(UTC)
    mail = OutgoingEmail(
        to=to,
        subject=f"[TKT-{n:05d}] Assigned to you",
        text=f"Ticket TKT-{n:05d} was assigned to you.\n",
        message_id=f"<bench.{uuid.uuid4().hex}@ticketstream.local>",
        in_reply_to=None,
        references=(),
        reply_to="support@ticketstream.local",
        ticket_id=str(uuid.uuid4()),
        ref=f"TKT-{n:05d}",
        kind="bench.assigned",
    )
    return {
        "_id": f"bench-{uuid.uuid4().hex}",
        **asdict(mail),
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


async def seed(database: Any, documents: list[dict[str, Any]]) -> None:
    for first in range(0, len(documents), SEED_BATCH):
        await database["mails"].insert_many(documents[first : first + SEED_BATCH], ordered=False)


@pytest.mark.timeout(3600)
async def test_notify_throughput(infra_env, smtp_relay) -> None:  # noqa: F811
    relay, smtp_url = smtp_relay
    settings = settings_from(infra_env, NotifySettings, smtp_url=smtp_url, log_level="WARNING")
    await prepare_topics(settings)
    produce, consume = await raw_produce_and_consume(settings.kafka_bootstrap)
    transactions = await raw_transactions(settings.mongo_url)
    app = create_notify(settings)
    async with running(app):
        database = app.state.platform.database
        events = [
            ticket_created(ticket_snapshot(ref=f"TKT-{n:05d}", requester=f"c{n}@example.com"))
            for n in range(EVENTS)
        ]
        started = time.perf_counter()
        await publish_events(settings, events)

        async def all_stored() -> bool:
            return await database["notifications"].count_documents({}) >= EVENTS and (
                await database["mails"].count_documents({}) >= EVENTS
            )

        await eventually(all_stored, timeout=900, interval=0.2)
        processed = EVENTS / (time.perf_counter() - started)
        print(f"  {EVENTS} events stored: {processed:,.1f}/s", flush=True)
        await eventually(lambda: _true(len(relay.messages) >= EVENTS), timeout=900, interval=0.2)

        relay.messages.clear()
        await seed(database, [pending_mail(f"agent{n}@example.com", n) for n in range(MAILS)])
        started = time.perf_counter()
        app.state.mail_dispatcher.poke()
        await eventually(lambda: _true(len(relay.messages) >= MAILS), timeout=900, interval=0.1)
        sent = MAILS / (time.perf_counter() - started)
        print(f"  {MAILS} mails sent: {sent:,.1f}/s", flush=True)

        relay.messages.clear()
        await seed(database, [pending_mail("storm@example.com", n) for n in range(STORM)])
        started = time.perf_counter()
        app.state.mail_dispatcher.poke()

        async def storm_settled() -> bool:
            return (
                await database["mails"].count_documents({"to": "storm@example.com", "status": "pending"}) == 0
            )

        await eventually(storm_settled, timeout=900, interval=0.1)
        triaged = STORM / (time.perf_counter() - started)
        held = await database["mails"].count_documents({"to": "storm@example.com", "status": "held"})
    lines = [
        "notify throughput (same run, same machine)",
        f"  raw broker produce           {produce:10,.0f} records/s",
        f"  raw broker consume           {consume:10,.0f} records/s",
        f"  raw database transactions    {transactions:10,.0f} txn/s",
        f"  events processed ({EVENTS})   {processed:10,.1f} events/s  "
        f"({processed / transactions:.1%} of raw transactions, {processed / consume:.2%} of raw consume)",
        f"  email sent to catcher ({MAILS}) {sent:8,.1f} mails/s   "
        f"({sent / transactions:.1%} of raw transactions)",
        f"  storm of {STORM} to one address: {STORM - held} sent at once, {held} held for the digest, "
        f"triaged at {triaged:,.1f} mails/s",
    ]
    print("\n" + "\n".join(lines))


async def _true(value: bool) -> bool:
    return value
