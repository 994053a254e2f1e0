"""Kafka for every service: the FastStream broker that consumes, and the producer the outbox uses.

Consumption rules (ARCHITECTURE §3): offsets are committed only after the handler succeeds; a
failing handler is retried with exponential backoff a bounded number of times, then the original
record goes to `<topic>.dlq` with the error in its headers, and consumption continues.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from faststream import AckPolicy, BaseMiddleware
from faststream.kafka import KafkaBroker
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.message import StreamMessage
from opentelemetry.trace import TracerProvider
from prometheus_client import CollectorRegistry

from ticketstream.contracts import InvalidEventError, KafkaMessage
from ticketstream.contracts.topics import dlq_of
from ticketstream.settings import PlatformSettings

log = logging.getLogger(__name__)

DLQ_HEADER_PREFIX = "ticketstream_"


def consumer_options(settings: PlatformSettings) -> dict[str, Any]:
    """Subscriber options every Ticketstream consumer uses."""
    return {
        "group_id": settings.consumer_group,
        "auto_offset_reset": "earliest",
        "fetch_max_wait_ms": settings.fetch_max_wait_ms,
        # Nack (seek back) only if even the dead-letter publish failed: nothing is skipped.
        "ack_policy": AckPolicy.NACK_ON_ERROR,
    }


def dead_letter_headers(
    message: StreamMessage[Any], error: BaseException, *, attempts: int
) -> dict[str, str]:
    record = message.raw_message
    headers = {name: str(value) for name, value in message.headers.items()}
    headers.update(
        {
            f"{DLQ_HEADER_PREFIX}error": f"{type(error).__name__}: {error}"[:2000],
            f"{DLQ_HEADER_PREFIX}error_type": type(error).__name__,
            f"{DLQ_HEADER_PREFIX}error_trace": "".join(traceback.format_exception(error))[-4000:],
            f"{DLQ_HEADER_PREFIX}attempts": str(attempts),
            f"{DLQ_HEADER_PREFIX}failed_at": datetime.now(UTC).isoformat(),
            f"{DLQ_HEADER_PREFIX}original_topic": str(getattr(record, "topic", "")),
            f"{DLQ_HEADER_PREFIX}original_partition": str(getattr(record, "partition", "")),
            f"{DLQ_HEADER_PREFIX}original_offset": str(getattr(record, "offset", "")),
        }
    )
    return headers


class RetryThenDeadLetter:
    """Broker middleware factory: bounded retries with backoff, then `<topic>.dlq`."""

    def __init__(self, *, max_attempts: int, first_backoff: float) -> None:
        self.max_attempts = max_attempts
        self.first_backoff = first_backoff
        self.broker: KafkaBroker | None = None

    def __call__(self, msg: Any, /, **kwargs: Any) -> BaseMiddleware:
        return _RetryMiddleware(msg, policy=self, **kwargs)


class _RetryMiddleware(BaseMiddleware):
    def __init__(self, msg: Any, /, *, policy: RetryThenDeadLetter, **kwargs: Any) -> None:
        super().__init__(msg, **kwargs)
        self.policy = policy

    async def consume_scope(self, call_next: Any, msg: StreamMessage[Any]) -> Any:
        delay = self.policy.first_backoff
        for attempt in range(1, self.policy.max_attempts + 1):
            try:
                return await call_next(msg)
            except Exception as error:  # noqa: BLE001 - every failure is retried, then dead-lettered
                # A message that cannot be parsed will never succeed: no point in retrying it.
                if attempt == self.policy.max_attempts or isinstance(error, InvalidEventError):
                    await self._dead_letter(msg, error, attempt)
                    return None
                log.warning("handler failed (attempt %d/%d): %s", attempt, self.policy.max_attempts, error)
                await asyncio.sleep(delay)
                delay *= 2
        return None

    async def _dead_letter(self, msg: StreamMessage[Any], error: Exception, attempts: int) -> None:
        record = msg.raw_message
        topic = str(getattr(record, "topic", ""))
        log.error("dead-lettering a record of %s after %d attempts: %s", topic, attempts, error)
        assert self.policy.broker is not None, "the policy is bound to its broker at creation"
        await self.policy.broker.publish(
            msg.body,
            topic=dlq_of(topic),
            key=getattr(record, "key", None),
            headers=dead_letter_headers(msg, error, attempts=attempts),
        )


def create_broker(
    settings: PlatformSettings,
    *,
    tracer_provider: TracerProvider | None,
    registry: CollectorRegistry,
) -> KafkaBroker:
    """A FastStream KafkaBroker (not connected) with telemetry, metrics and retry-then-DLQ."""
    retry = RetryThenDeadLetter(
        max_attempts=settings.handler_max_attempts,
        first_backoff=settings.handler_retry_backoff_ms / 1000,
    )
    broker = KafkaBroker(
        settings.kafka_bootstrap,
        client_id=f"ticketstream-{settings.service_name}",
        enable_idempotence=False,
        middlewares=[
            KafkaTelemetryMiddleware(tracer_provider=tracer_provider),
            KafkaPrometheusMiddleware(registry=registry, app_name=settings.service_name),
            retry,
        ],
        logger=logging.getLogger(f"ticketstream.{settings.service_name}.kafka"),
    )
    retry.broker = broker
    return broker


class EventProducer:
    """The outbox relay's producer: sends a batch without awaiting each record in turn."""

    def __init__(self, settings: PlatformSettings) -> None:
        self._settings = settings
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        """Connect; a failed start can simply be retried (each start builds a fresh client)."""
        producer = AIOKafkaProducer(
            bootstrap_servers=self._settings.kafka_bootstrap,
            client_id=f"ticketstream-{self._settings.service_name}-outbox",
            enable_idempotence=False,  # the embedded broker lacks it; outbox + inbox give safety
            acks="all",
            linger_ms=2,
        )
        try:
            await producer.start()
        except BaseException:
            await producer.stop()
            raise
        self._producer = producer

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    @property
    def _client(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise RuntimeError("the event producer is not connected")
        return self._producer

    async def ping(self) -> None:
        """Raise unless the cluster answers a metadata request."""
        await self._client.client.fetch_all_metadata()

    async def publish_batch(self, messages: Sequence[KafkaMessage]) -> Sequence[BaseException | None]:
        deliveries: list[asyncio.Future[Any] | BaseException] = []
        for message in messages:
            try:
                deliveries.append(
                    await self._client.send(
                        self._settings.topic(message.topic),
                        message.value,
                        key=message.key.encode(),
                        headers=[(name, value.encode()) for name, value in message.headers.items()],
                    )
                )
            except Exception as error:  # noqa: BLE001 - reported per record to the relay
                deliveries.append(error)
        outcomes: list[BaseException | None] = []
        for delivery in deliveries:
            if isinstance(delivery, BaseException):
                outcomes.append(delivery)
                continue
            try:
                await delivery
                outcomes.append(None)
            except Exception as error:  # noqa: BLE001
                outcomes.append(error)
        return outcomes
