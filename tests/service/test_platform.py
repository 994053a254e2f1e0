"""The platform library against the real broker and database: DLQ, retries, outbox, inbox."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter

from faststream.kafka import KafkaRouter
from faststream.kafka.annotations import KafkaMessage
from prometheus_client import CollectorRegistry

from tests.helpers import eventually, prepare_topics, read_topic, settings_from
from ticketstream.broker import EventProducer, consumer_options, create_broker
from ticketstream.contracts import KafkaMessage as OutgoingMessage
from ticketstream.contracts import encode_event, parse_event, topics
from ticketstream.contracts.events import InboundCsatSubmitted
from ticketstream.contracts.models import Csat
from ticketstream.db import create_mongo_client, ensure_indexes, run_in_transaction
from ticketstream.inbox import INBOX_INDEXES, claim_event
from ticketstream.outbox import OUTBOX_COLLECTION, OUTBOX_INDEXES, OutboxRelay, enqueue
from ticketstream.settings import PlatformSettings


def csat_event(ref: str, score: int = 5) -> InboundCsatSubmitted:
    from datetime import UTC, datetime

    return InboundCsatSubmitted(
        ticket_id=f"id-{ref}", ref=ref, csat=Csat(score=score), submitted_at=datetime.now(UTC)
    )


async def _publish(settings: PlatformSettings, messages: list[OutgoingMessage]) -> None:
    producer = EventProducer(settings)
    await producer.start()
    try:
        outcomes = await producer.publish_batch(messages)
        assert outcomes == [None] * len(messages)
    finally:
        await producer.stop()


async def test_failing_handler_is_retried_then_dead_lettered_and_consumption_continues(infra_env):
    settings = settings_from(infra_env, PlatformSettings, handler_max_attempts=3)
    await prepare_topics(settings)
    attempts: Counter[str] = Counter()
    handled: list[str] = []
    router = KafkaRouter()

    @router.subscriber(settings.topic(topics.INBOUND), **consumer_options(settings))
    async def handler(message: KafkaMessage) -> None:
        envelope = parse_event(message.headers, message.body)
        ref = envelope.subject or ""
        attempts[ref] += 1
        if ref == "TKT-POISON":
            raise RuntimeError("this ticket always fails")
        if ref == "TKT-FLAKY" and attempts[ref] < 2:
            raise ConnectionError("transient failure")
        handled.append(ref)

    broker = create_broker(settings, tracer_provider=None, registry=CollectorRegistry())
    broker.include_router(router)
    await broker.start()
    try:
        consumer = broker.subscribers[0].consumer
        await eventually(lambda: _true(consumer.assignment()), timeout=30)
        await _publish(
            settings,
            [
                encode_event(csat_event(ref), service="test", key="same-key", subject=ref)
                for ref in ("TKT-POISON", "TKT-FLAKY", "TKT-GOOD")
            ],
        )
        await eventually(lambda: _true(len(handled) == 2), timeout=20)
    finally:
        await broker.stop()

    assert handled == ["TKT-FLAKY", "TKT-GOOD"]
    assert attempts == {"TKT-POISON": 3, "TKT-FLAKY": 2, "TKT-GOOD": 1}
    dead = await read_topic(
        settings.kafka_bootstrap, settings.topic(topics.dlq_of(topics.INBOUND)), until=lambda r: len(r) >= 1
    )
    assert len(dead) == 1
    assert dead[0].headers["ce_subject"] == "TKT-POISON"
    assert dead[0].headers["ticketstream_error"] == "RuntimeError: this ticket always fails"
    assert dead[0].headers["ticketstream_attempts"] == "3"
    assert dead[0].headers["ticketstream_original_topic"] == settings.topic(topics.INBOUND)
    assert json.loads(dead[0].value)["ref"] == "TKT-POISON"


async def test_unparseable_message_goes_to_dlq_without_retries(infra_env):
    settings = settings_from(infra_env, PlatformSettings, handler_max_attempts=5)
    await prepare_topics(settings)
    calls = 0
    router = KafkaRouter()

    @router.subscriber(settings.topic(topics.INBOUND), **consumer_options(settings))
    async def handler(message: KafkaMessage) -> None:
        nonlocal calls
        calls += 1
        parse_event(message.headers, message.body)

    broker = create_broker(settings, tracer_provider=None, registry=CollectorRegistry())
    broker.include_router(router)
    await broker.start()
    try:
        await eventually(lambda: _true(broker.subscribers[0].consumer.assignment()), timeout=30)
        await _publish(
            settings,
            [OutgoingMessage(topic=topics.INBOUND, key="k", headers={"ce_type": "nonsense"}, value=b"{}")],
        )
        dead = await read_topic(
            settings.kafka_bootstrap,
            settings.topic(topics.dlq_of(topics.INBOUND)),
            until=lambda r: len(r) >= 1,
        )
    finally:
        await broker.stop()
    assert calls == 1
    assert "missing CloudEvents headers" in dead[0].headers["ticketstream_error"]


async def _true(value: object) -> bool:
    return bool(value)


async def test_outbox_publishes_committed_events_in_order_and_never_aborted_ones(infra_env):
    settings = settings_from(infra_env, PlatformSettings)
    await prepare_topics(settings)
    client = create_mongo_client(settings)
    database = client[settings.database_name]
    await ensure_indexes(database, OUTBOX_INDEXES)
    try:
        for score in range(1, 6):

            async def commit(session, score=score):
                await enqueue(
                    database, session, encode_event(csat_event("TKT-0007", score), service="test", key="t7")
                )

            await run_in_transaction(client, commit)

        async def abort(session):
            await enqueue(
                database, session, encode_event(csat_event("TKT-ABORTED"), service="test", key="t7")
            )
            raise ValueError("the state change failed")

        with contextlib.suppress(ValueError):
            await run_in_transaction(client, abort)
        assert await database[OUTBOX_COLLECTION].count_documents({}) == 5

        producer = EventProducer(settings)
        await producer.start()
        relay = OutboxRelay(database, producer.publish_batch, poll_interval=0.05, batch_size=2)
        task = asyncio.create_task(relay.run())
        try:
            records = await read_topic(
                settings.kafka_bootstrap, settings.topic(topics.INBOUND), until=lambda r: len(r) >= 5
            )
            await eventually(lambda: _backlog_is_zero(relay))
        finally:
            task.cancel()
            await producer.stop()
        scores = [json.loads(record.value)["csat"]["score"] for record in records]
        assert scores == [1, 2, 3, 4, 5]
        assert {record.key for record in records} == {"t7"}
        assert all(json.loads(record.value)["ref"] != "TKT-ABORTED" for record in records)
    finally:
        await client.close()


async def _backlog_is_zero(relay: OutboxRelay) -> bool:
    return await relay.backlog() == 0


async def test_outbox_relay_resumes_after_a_crash_between_publish_and_mark(infra_env):
    """A relay that dies after publishing but before marking re-publishes: at-least-once."""
    settings = settings_from(infra_env, PlatformSettings)
    await prepare_topics(settings)
    client = create_mongo_client(settings)
    database = client[settings.database_name]
    await ensure_indexes(database, OUTBOX_INDEXES)
    try:

        async def commit(session):
            for score in (1, 2, 3):
                await enqueue(
                    database, session, encode_event(csat_event("TKT-0008", score), service="test", key="t8")
                )

        await run_in_transaction(client, commit)
        producer = EventProducer(settings)
        await producer.start()

        async def publish_then_crash(messages):
            await producer.publish_batch(messages)
            raise ConnectionResetError("relay process died before marking the records sent")

        crashed = OutboxRelay(database, publish_then_crash, poll_interval=0.05)
        with contextlib.suppress(ConnectionResetError):
            await crashed.drain_once()
        assert await crashed.backlog() == 3

        resumed = OutboxRelay(database, producer.publish_batch, poll_interval=0.05)
        assert await resumed.drain_once() == 3
        assert await resumed.backlog() == 0
        await producer.stop()
        records = await read_topic(
            settings.kafka_bootstrap, settings.topic(topics.INBOUND), until=lambda r: len(r) >= 6
        )
        ids = [record.headers["ce_id"] for record in records]
        assert len(ids) == 6 and len(set(ids)) == 3, "the same three events, each delivered twice"
    finally:
        await client.close()


async def test_inbox_claims_an_event_once_and_forgets_claims_of_aborted_transactions(infra_env):
    settings = settings_from(infra_env, PlatformSettings)
    client = create_mongo_client(settings)
    database = client[settings.database_name]
    await ensure_indexes(database, INBOX_INDEXES)
    try:

        async def claim(session):
            return await claim_event(database, session, consumer="c", event_id="e1", event_type="x")

        assert await run_in_transaction(client, claim) is True
        assert await run_in_transaction(client, claim) is False

        async def claim_then_fail(session):
            await claim_event(database, session, consumer="c", event_id="e2", event_type="x")
            raise RuntimeError("handler failed")

        with contextlib.suppress(RuntimeError):
            await run_in_transaction(client, claim_then_fail)

        async def claim_e2(session):
            return await claim_event(database, session, consumer="c", event_id="e2", event_type="x")

        assert await run_in_transaction(client, claim_e2) is True
    finally:
        await client.close()
