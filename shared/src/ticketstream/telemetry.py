"""Logs, traces and metrics, wired the same way in every service.

- JSON logs on stderr carrying the current trace and span ids.
- OpenTelemetry tracing: an HTTP server span per request, `traceparent` carried in Kafka headers
  (outbox records keep the trace of the change that wrote them; FastStream's middleware continues
  it on the consumer side) and a client span per MongoDB command. Spans are exported only when
  OTEL_EXPORTER_OTLP_ENDPOINT is set.
- Prometheus metrics in a registry per app, served at /metrics.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from prometheus_client import CollectorRegistry, Gauge, Histogram
from pymongo import monitoring
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ticketstream.settings import PlatformSettings


class JsonLogFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            entry["trace_id"] = format(context.trace_id, "032x")
            entry["span_id"] = format(context.span_id, "016x")
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(settings: PlatformSettings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter(settings.service_name))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(settings.log_level.upper())
    logging.Formatter.converter = time.gmtime


def create_tracer_provider(settings: PlatformSettings) -> TracerProvider:
    """A tracer provider for this service; it exports only when an OTLP endpoint is configured."""
    service_name = os.environ.get("OTEL_SERVICE_NAME") or f"ticketstream-{settings.service_name}"
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def install_tracer_provider(provider: TracerProvider) -> None:
    """Make `provider` the process-wide one (the first call wins, as OpenTelemetry allows)."""
    trace.set_tracer_provider(provider)


class ServiceMetrics:
    """The metrics every service exposes, in a registry owned by one app instance."""

    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        self.http_latency = Histogram(
            "ticketstream_http_request_duration_seconds",
            "HTTP request latency",
            ["service", "method", "route", "status"],
            registry=self.registry,
        )
        self.consumer_lag = Gauge(
            "ticketstream_consumer_lag_records",
            "Records behind the partition end, per topic and partition",
            ["service", "topic", "partition"],
            registry=self.registry,
        )
        self.outbox_backlog = Gauge(
            "ticketstream_outbox_backlog_records",
            "Outbox records not yet published",
            ["service"],
            registry=self.registry,
        )
        self.service = service

    def set_outbox_backlog(self, count: int) -> None:
        self.outbox_backlog.labels(self.service).set(count)


class HttpTelemetryMiddleware:
    """ASGI middleware: one server span per request (continuing `traceparent`) and latency."""

    def __init__(self, app: ASGIApp, *, metrics: ServiceMetrics, tracer_provider: TracerProvider):
        self.app = app
        self.metrics = metrics
        self.tracer = tracer_provider.get_tracer("ticketstream.http")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        carrier = {key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]}
        status = {"code": 500}

        async def record_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        started = time.perf_counter()
        name = f"{scope['method']} {scope['path']}"
        with self.tracer.start_as_current_span(
            name, context=propagate.extract(carrier), kind=SpanKind.SERVER
        ) as span:
            try:
                await self.app(scope, receive, record_status)
            finally:
                route = scope.get("route")
                route_path = getattr(route, "path", "unmatched")
                span.set_attribute("http.request.method", scope["method"])
                span.set_attribute("http.route", route_path)
                span.set_attribute("http.response.status_code", status["code"])
                self.metrics.http_latency.labels(
                    self.metrics.service, scope["method"], route_path, str(status["code"])
                ).observe(time.perf_counter() - started)


class MongoTracingListener(monitoring.CommandListener):
    """A client span per MongoDB command, child of whatever span issued it."""

    def __init__(self, tracer_provider: TracerProvider) -> None:
        self.tracer = tracer_provider.get_tracer("ticketstream.mongodb")
        self.spans: dict[tuple[int, int], Span] = {}

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if not trace.get_current_span().get_span_context().is_valid:
            return  # background polling outside any request or message is not traced
        span = self.tracer.start_span(f"mongodb {event.command_name}", kind=SpanKind.CLIENT)
        span.set_attribute("db.system", "mongodb")
        span.set_attribute("db.namespace", event.database_name)
        span.set_attribute("db.operation.name", event.command_name)
        self.spans[(event.request_id, event.operation_id or 0)] = span

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        span = self.spans.pop((event.request_id, event.operation_id or 0), None)
        if span is not None:
            span.end()

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        span = self.spans.pop((event.request_id, event.operation_id or 0), None)
        if span is not None:
            span.set_status(Status(StatusCode.ERROR, str(event.failure)[:200]))
            span.end()
