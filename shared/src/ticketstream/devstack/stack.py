"""The whole system on one machine: infrastructure, topics, the five services, readiness."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import urlparse

from ticketstream.devstack.processes import (
    SERVICE_NAMES,
    ManagedProcess,
    start_embedded_broker,
    start_embedded_database,
    start_service,
    stop,
    stop_all,
    wait_until_ready,
)
from ticketstream.devstack.topics import create_topics
from ticketstream.settings import PlatformSettings

KAFKA_ENV = "TICKETSTREAM_KAFKA_BOOTSTRAP"
MONGO_ENV = "TICKETSTREAM_MONGO_URL"


class DevStack:
    """Starts what is missing and remembers every child so that `stop` leaves none behind."""

    def __init__(self, *, state_dir: Path, environ: Mapping[str, str] | None = None) -> None:
        self.state_dir = state_dir
        self.environ = dict(os.environ if environ is None else environ)
        self.infrastructure: list[ManagedProcess] = []
        self.services: dict[str, ManagedProcess] = {}
        # Settings that differ per service process (its own embedded database).
        self.service_environ: dict[str, dict[str, str]] = {}

    @property
    def settings(self) -> PlatformSettings:
        """The settings the services see, from this stack's environment alone."""
        prefix = "TICKETSTREAM_"
        values = {
            name.removeprefix(prefix).lower(): value
            for name, value in self.environ.items()
            if name.startswith(prefix) and name.removeprefix(prefix).lower() in PlatformSettings.model_fields
        }
        return PlatformSettings.model_validate(values)

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    def start_infrastructure(
        self, *, kafka_port: int | None = None, mongo_ports: Sequence[int] | None = None
    ) -> list[str]:
        """Start the embedded broker and databases unless external URLs are configured.

        Ports default to the documented ones (9092, 27017-27021).
        """
        started = []
        defaults = PlatformSettings.model_fields
        if KAFKA_ENV not in self.environ:
            default_bootstrap = str(defaults["kafka_bootstrap"].default)
            host, _, default_port = default_bootstrap.partition(":")
            port = kafka_port or int(default_port)
            bootstrap = f"{host}:{port}"
            self.infrastructure.append(start_embedded_broker(host=host, port=port, log_dir=self.log_dir))
            self.environ[KAFKA_ENV] = bootstrap
            started.append(f"broker (embedded Kafka-compatible) at {bootstrap}")
        if MONGO_ENV not in self.environ:
            # One embedded database server per service: each is single-threaded, and the five
            # services' transactions then run side by side (≈1.8x the throughput of one server).
            default_url = urlparse(str(defaults["mongo_url"].default))
            host = default_url.hostname or "127.0.0.1"
            first_port = default_url.port or 27017
            ports = list(mongo_ports or range(first_port, first_port + len(SERVICE_NAMES)))
            stamp = time.strftime("%Y%m%d-%H%M%S")
            for name, port in zip(SERVICE_NAMES, ports, strict=True):
                # A fresh store per run: the embedded broker forgets its topics on restart anyway.
                self.infrastructure.append(
                    start_embedded_database(
                        host=host,
                        port=port,
                        storage_path=self.state_dir / f"mongo-{stamp}" / name,
                        log_dir=self.log_dir,
                        name=f"database-{name}",
                    )
                )
                self.service_environ[name] = {MONGO_ENV: f"mongodb://{host}:{port}/?directConnection=true"}
            started.append(
                f"databases (embedded MongoDB-compatible, one per service) at {host} ports "
                + ", ".join(str(port) for port in ports)
            )
        return started

    def create_topics(self) -> list[str]:
        return asyncio.run(create_topics(self.settings))

    def start_services(self, names: Sequence[str] = SERVICE_NAMES) -> None:
        for name in names:
            self.services[name] = self._start(name)

    def wait_ready(self, names: Sequence[str] = SERVICE_NAMES, *, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        for name in names:
            wait_until_ready(
                self.services[name],
                self.settings.service_url(name),
                timeout=max(deadline - time.monotonic(), 1.0),
            )

    def kill_service(self, name: str) -> None:
        """Stop a service without a graceful shutdown, as a crash would."""
        stop(self.services[name], hard=True)

    def restart_service(self, name: str) -> None:
        stop(self.services[name])
        self.services[name] = self._start(name)

    def _start(self, name: str) -> ManagedProcess:
        environ = {**self.environ, **self.service_environ.get(name, {})}
        return start_service(name, env=environ, log_dir=self.log_dir)

    def stop(self) -> None:
        stop_all(list(self.services.values()))
        stop_all(self.infrastructure)
        self.services.clear()
        self.infrastructure.clear()
