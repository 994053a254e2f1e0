"""Benchmark: ticket events → signed webhook deliveries received by a local HTTP receiver.

notify runs in process with one subscription to `ticket.*` on a receiver on localhost that answers
204 (private targets allowed for the run). BENCH_WEBHOOKS ticket.created events (default 300) are
published in one batch; the figures are deliveries received per second from the publish to the last
request, and the latency from the publish to each request. The raw database transaction rate of
the same run is printed next to them, and how fast the consumer queued the deliveries (to tell
the consuming stage from the sending one). No assertions on time.
"""

from __future__ import annotations

import os
import statistics
import time

from tests.bench.substrate import raw_transactions
from tests.helpers import (
    bearer,
    eventually,
    prepare_topics,
    publish_events,
    running,
    settings_from,
    ticket_created,
    ticket_snapshot,
)
from tests.service.test_notify_webhooks import Receiver, receiver  # noqa: F401 - a fixture
from ticketstream.auth import Role
from ticketstream_notify.app import create_app as create_notify
from ticketstream_notify.settings import Settings as NotifySettings

EVENTS = int(os.environ.get("BENCH_WEBHOOKS", "300"))


async def test_webhook_delivery_throughput(infra_env, receiver: Receiver) -> None:  # noqa: F811
    settings = settings_from(infra_env, NotifySettings, webhook_allow_private=True)
    await prepare_topics(settings)
    raw_rate = await raw_transactions(settings.mongo_url)
    receiver.script["/bench"] = [204]
    app = create_notify(settings)
    async with running(app) as client:
        created = await client.post(
            "/v1/webhooks",
            json={"url": f"{receiver.url}/bench", "event_types": ["ticket.*"]},
            headers=bearer(settings, Role.ADMIN, sub="ada"),
        )
        assert created.status_code == 201
        events = [ticket_created(ticket_snapshot(ref=f"TKT-{9000 + n}")) for n in range(EVENTS)]
        started = time.time()
        await publish_events(settings, events)

        async def all_received() -> bool:
            return len(receiver.at("/bench")) >= EVENTS

        await eventually(all_received, timeout=600, interval=0.2)
        elapsed = time.time() - started
        queued, _ = await app.state.webhook_store.deliveries_page(
            created.json()["id"], limit=EVENTS, before=None
        )
        queued_times = sorted(delivery.created_at.timestamp() for delivery in queued)
        arrivals = sorted(int(request.headers["webhook-timestamp"]) for request in receiver.at("/bench"))
    assert len({request.headers["webhook-id"] for request in receiver.at("/bench")}) == EVENTS
    latencies = [arrival - started for arrival in arrivals]
    rate = EVENTS / elapsed
    print(f"\nraw database transactions: {raw_rate:,.0f} txn/s")
    print(f"webhook deliveries received: {rate:.1f}/s ({EVENTS} events, {elapsed:.1f} s)")
    print(f"deliveries / raw database transactions: {rate / raw_rate:.1%}")
    print(
        f"deliveries queued by the consumer: {EVENTS / (queued_times[-1] - started):.1f}/s "
        f"(last queued {queued_times[-1] - started:.1f} s after the publish)"
    )
    print(
        "publish → attempt started (whole seconds of webhook-timestamp): "
        f"p50 {statistics.median(latencies):.0f} s, max {max(latencies):.0f} s"
    )
