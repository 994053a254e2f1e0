"""Substrate baselines every benchmark prints next to its own figures (ARCHITECTURE §10)."""

from __future__ import annotations

import asyncio
import os
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from ticketstream.db import run_in_transaction

RAW_RECORDS = 20_000
RAW_TRANSACTIONS = 500


async def raw_produce_and_consume(bootstrap: str) -> tuple[float, float]:
    topic = f"bench-raw-{uuid.uuid4().hex[:6]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 6, 1)])
    await admin.close()
    payload = os.urandom(1024)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, linger_ms=5)
    await producer.start()
    started = time.perf_counter()
    deliveries = [await producer.send(topic, payload, key=str(i % 64).encode()) for i in range(RAW_RECORDS)]
    await asyncio.gather(*deliveries)
    produce_rate = RAW_RECORDS / (time.perf_counter() - started)
    await producer.stop()
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", fetch_max_wait_ms=20
    )
    await consumer.start()
    consumed = 0
    started = time.perf_counter()
    while consumed < RAW_RECORDS:
        for batch in (await consumer.getmany(timeout_ms=500, max_records=5000)).values():
            consumed += len(batch)
    consume_rate = RAW_RECORDS / (time.perf_counter() - started)
    await consumer.stop()
    return produce_rate, consume_rate


async def raw_transactions(mongo_url: str) -> float:
    from pymongo import AsyncMongoClient

    client: AsyncMongoClient = AsyncMongoClient(mongo_url)
    database = client["bench_raw"]

    async def work(session, n: int) -> None:
        await database.state.insert_one({"n": n, "pad": "x" * 512}, session=session)
        await database.outbox.insert_one({"n": n, "pad": "y" * 512}, session=session)

    started = time.perf_counter()
    for n in range(RAW_TRANSACTIONS):
        await run_in_transaction(client, lambda session, n=n: work(session, n))
    rate = RAW_TRANSACTIONS / (time.perf_counter() - started)
    await client.close()
    return rate
