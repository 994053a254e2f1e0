"""What every service is made of: the platform objects, the FastAPI app and its lifespan.

`ServicePlatform` builds the database client, the broker, the outbox relay, telemetry and the
token verifier without doing IO. `create_service_app` wraps a service's routers with the common
endpoints (/healthz, /readyz, /metrics), one error body shape and a lifespan that connects in the
background, so /readyz answers 503 until the broker and the database are reachable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from ticketstream.asyncapi import asyncapi_document
from ticketstream.auth import TokenVerifier
from ticketstream.broker import EventProducer, create_broker
from ticketstream.db import IndexPlan, create_mongo_client, ensure_indexes, ping
from ticketstream.inbox import INBOX_INDEXES
from ticketstream.outbox import OUTBOX_INDEXES, OutboxRelay
from ticketstream.settings import PlatformSettings
from ticketstream.telemetry import (
    HttpTelemetryMiddleware,
    MongoTracingListener,
    ServiceMetrics,
    create_tracer_provider,
)

log = logging.getLogger(__name__)

BackgroundTask = Callable[[], Coroutine[Any, Any, None]]
READINESS_TIMEOUT = 2.0
CONNECT_RETRY_SECONDS = 1.0
LAG_INTERVAL_SECONDS = 5.0
SHUTDOWN_FLUSH_SECONDS = 5.0
SHUTDOWN_STEP_SECONDS = 5.0


class ServicePlatform:
    """The infrastructure objects of one service instance."""

    def __init__(self, settings: PlatformSettings, *, indexes: IndexPlan) -> None:
        self.settings = settings
        self.metrics = ServiceMetrics(settings.service_name)
        self.tracer_provider = create_tracer_provider(settings)
        self.mongo = create_mongo_client(settings, listeners=[MongoTracingListener(self.tracer_provider)])
        self.database = self.mongo[settings.database_name]
        self.broker = create_broker(
            settings, tracer_provider=self.tracer_provider, registry=self.metrics.registry
        )
        self.producer = EventProducer(settings)
        self.relay = OutboxRelay(
            self.database,
            self.producer.publish_batch,
            poll_interval=settings.outbox_poll_ms / 1000,
            on_backlog=self.metrics.set_outbox_backlog,
        )
        self.token_verifier = TokenVerifier(settings)
        self.indexes: IndexPlan = {**INBOX_INDEXES, **OUTBOX_INDEXES, **indexes}
        # Run once connected: `before_consuming` before the broker starts handing out messages
        # (seed what handlers need), `after_consuming` once it does (open extra listeners).
        self.before_consuming: list[BackgroundTask] = []
        self.after_consuming: list[BackgroundTask] = []
        self.background: list[BackgroundTask] = []
        self.shutdown_steps: list[BackgroundTask] = []
        self.connected = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._relay_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._connect(), name="connect"))

    async def stop(self) -> None:
        """Stop consuming first, then let the relay publish what was committed, then disconnect.

        Every step is bounded: a broker or database that stops answering must not keep the
        process from exiting (the orchestrator's grace period is finite).
        """
        for task in self._tasks:
            task.cancel()
        # A task that ignores its cancellation must not keep the process from exiting either.
        await _bounded(asyncio.gather(*self._tasks, return_exceptions=True), "background tasks")
        for step in self.shutdown_steps:
            await _bounded(step(), "shutdown step")
        await _bounded(self.broker.stop(), "broker stop")
        if self._relay_task is not None:
            self.relay.stop()
            if not await _bounded(self._relay_task, "outbox flush", seconds=SHUTDOWN_FLUSH_SECONDS):
                log.warning("outbox not fully flushed at shutdown; it resumes on the next start")
        await _bounded(self.producer.stop(), "producer stop")
        await _bounded(self.mongo.close(), "database close")
        self.tracer_provider.shutdown()

    async def _connect(self) -> None:
        """Bring the service up, retrying until the broker and the database answer."""
        while True:
            try:
                await ensure_indexes(self.database, self.indexes)
                for step in self.before_consuming:
                    await step()
                await self.producer.start()
                await self._start_broker()
                for step in self.after_consuming:
                    await step()
                break
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - log, then retry until infrastructure is up
                log.warning("waiting for infrastructure: %s", error)
                with contextlib.suppress(Exception):
                    await self.broker.stop()
                with contextlib.suppress(Exception):
                    await self.producer.stop()
                await asyncio.sleep(CONNECT_RETRY_SECONDS)
        self._relay_task = asyncio.create_task(self.relay.run(), name="outbox-relay")
        for task in (self._observe_consumer_lag, *self.background):
            self._tasks.append(asyncio.create_task(task(), name=getattr(task, "__name__", "task")))
        self.connected.set()
        log.info("%s service connected and consuming", self.settings.service_name)

    async def _start_broker(self) -> None:
        """What `broker.start()` does, but with every subscriber starting at once.

        A subscriber's start returns once its consumer group has given it partitions, and each
        member that joins makes the group rebalance. Started one after another, a service with
        several subscribers in one group paid one rebalance per subscriber (about 8 s each on the
        embedded broker, minutes on a loaded one); joining together they share one.
        """
        await self.broker.connect()
        try:
            async with asyncio.TaskGroup() as starting:
                for subscriber in self.broker.subscribers:
                    starting.create_task(subscriber.start())
        except ExceptionGroup as failed:
            raise failed.exceptions[0] from failed  # so the retry log names the cause
        for publisher in self.broker.publishers:
            await publisher.start()
        self.broker.running = True

    async def readiness(self) -> dict[str, str]:
        """'ok' or the reason, per dependency."""
        checks: dict[str, str] = {}
        try:
            await asyncio.wait_for(ping(self.mongo), READINESS_TIMEOUT)
            checks["database"] = "ok"
        except Exception as error:  # noqa: BLE001
            checks["database"] = f"unreachable: {type(error).__name__}"
        try:
            await asyncio.wait_for(self.producer.ping(), READINESS_TIMEOUT)
            checks["broker"] = "ok"
        except Exception as error:  # noqa: BLE001
            checks["broker"] = f"unreachable: {type(error).__name__}"
        checks["consumers"] = "ok" if self.connected.is_set() else "starting"
        return checks

    async def _observe_consumer_lag(self) -> None:
        while True:
            await asyncio.sleep(LAG_INTERVAL_SECONDS)
            for subscriber in self.broker.subscribers:
                consumer: Any = getattr(subscriber, "consumer", None)
                if consumer is None:
                    continue
                for partition in consumer.assignment():
                    end = consumer.highwater(partition)
                    if end is None:
                        continue
                    try:
                        committed = await consumer.committed(partition) or 0
                    except Exception:  # noqa: BLE001 - a rebalance may be under way
                        continue
                    self.metrics.consumer_lag.labels(
                        self.settings.service_name, partition.topic, str(partition.partition)
                    ).set(max(end - committed, 0))


async def _bounded(step: Awaitable[Any], name: str, *, seconds: float = SHUTDOWN_STEP_SECONDS) -> bool:
    """Await a shutdown step for at most `seconds`; True when it finished without error."""
    try:
        await asyncio.wait_for(step, seconds)
    except Exception as error:  # noqa: BLE001 - shutdown goes on whatever one step does
        log.warning("%s did not finish cleanly: %s", name, type(error).__name__)
        return False
    return True


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "too_many_requests",
    503: "unavailable",
}


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(error.status_code, "error")
        detail = error.detail
        if isinstance(detail, dict) and "message" in detail:
            # A route that knows more passes {"code", "message", "details"} as the detail.
            code = str(detail.get("code") or code)
            message, details = str(detail["message"]), detail.get("details")
        elif isinstance(detail, str):
            message, details = detail, None
        else:
            message, details = code.replace("_", " "), detail
        return JSONResponse(
            error_body(code, message, details),
            status_code=error.status_code,
            headers=getattr(error, "headers", None),
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, error: RequestValidationError) -> JSONResponse:
        details = [
            {"location": list(item["loc"]), "message": item["msg"], "type": item["type"]}
            for item in error.errors()
        ]
        return JSONResponse(
            error_body("validation_failed", "the request is not valid", details), status_code=422
        )

    @app.exception_handler(Exception)
    async def unexpected_error(_: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=error)
        return JSONResponse(error_body("internal", "internal error"), status_code=500)


def _platform_router(platform: ServicePlatform) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": platform.settings.service_name}

    @router.get("/readyz", summary="Broker and database reachable, consumers running")
    async def readyz() -> JSONResponse:
        checks = await platform.readiness()
        ready = all(value == "ok" for value in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not_ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    @router.get("/asyncapi.json", summary="AsyncAPI document of this service's topics")
    async def asyncapi() -> dict[str, Any]:
        return asyncapi_document([platform.broker])

    @router.get("/metrics", summary="Prometheus metrics")
    async def metrics() -> Response:
        return Response(generate_latest(platform.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return router


def create_service_app(
    platform: ServicePlatform,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter],
) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await platform.start()
        try:
            yield
        finally:
            await platform.stop()

    app = FastAPI(title=title, description=description, version="0.1.0", lifespan=lifespan)
    app.state.platform = platform
    app.state.settings = platform.settings
    app.state.token_verifier = platform.token_verifier
    _install_error_handlers(app)
    app.include_router(_platform_router(platform))
    for router in routers:
        app.include_router(router)
    app.add_middleware(
        HttpTelemetryMiddleware,
        metrics=platform.metrics,
        tracer_provider=platform.tracer_provider,
    )
    return app


def serve(app_factory: Callable[[], FastAPI], settings: PlatformSettings) -> None:
    """Run one service in this process (the services' `python -m` entry point)."""
    import uvicorn

    from ticketstream.telemetry import configure_logging

    configure_logging(settings)
    uvicorn.run(
        app_factory(),
        host=settings.http_host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
    )
