"""Test infrastructure, chosen as ARCHITECTURE §7 says.

1. TICKETSTREAM_KAFKA_BOOTSTRAP / TICKETSTREAM_MONGO_URL from the environment;
2. else testcontainers (Kafka, MongoDB replica set) when a Docker engine answers;
3. else the embedded broker and database as child processes (CI has no Docker engine).

The broker and database start once per session; every test isolates itself with its own topic
prefix and database prefix, so tests never see each other's events or documents.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ticketstream.devstack.processes import (
    free_port,
    start_embedded_broker,
    start_embedded_database,
    stop_all,
)


@dataclass(frozen=True)
class Infrastructure:
    kafka_bootstrap: str
    mongo_url: str
    kind: str


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception:  # noqa: BLE001 - any failure means: no usable engine
        return False
    return True


@pytest.fixture(scope="session")
def infrastructure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infrastructure]:
    kafka = os.environ.get("TICKETSTREAM_KAFKA_BOOTSTRAP")
    mongo = os.environ.get("TICKETSTREAM_MONGO_URL")
    if kafka and mongo:
        yield Infrastructure(kafka, mongo, "environment")
        return
    if _docker_answers():
        from testcontainers.kafka import KafkaContainer
        from testcontainers.mongodb import MongoDbContainer

        with (
            KafkaContainer().with_kraft() as kafka_container,
            MongoDbContainer("mongo:7").with_command("--replSet rs0 --bind_ip_all") as mongo_container,
        ):
            mongo_container.exec(
                [
                    "mongosh",
                    "--quiet",
                    "--eval",
                    "rs.initiate({_id:'rs0',members:[{_id:0,host:'localhost:27017'}]})",
                ]
            )
            host = mongo_container.get_container_host_ip()
            port = mongo_container.get_exposed_port(27017)
            yield Infrastructure(
                kafka_container.get_bootstrap_server(),
                f"mongodb://{host}:{port}/?directConnection=true",
                "testcontainers",
            )
        return
    workdir = tmp_path_factory.mktemp("infrastructure")
    kafka_port, mongo_port = free_port(), free_port()
    processes = [
        start_embedded_broker(host="127.0.0.1", port=kafka_port, log_dir=workdir / "logs"),
        start_embedded_database(
            host="127.0.0.1", port=mongo_port, storage_path=workdir / "mongo", log_dir=workdir / "logs"
        ),
    ]
    try:
        yield Infrastructure(
            f"127.0.0.1:{kafka_port}",
            f"mongodb://127.0.0.1:{mongo_port}/?directConnection=true",
            "embedded",
        )
    finally:
        stop_all(processes)


@pytest.fixture
def isolation() -> str:
    """A short unique tag for this test's topics and databases."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def infra_env(infrastructure: Infrastructure, isolation: str) -> dict[str, str]:
    """TICKETSTREAM_* settings for this test: shared infrastructure, private topics and databases."""
    return {
        "TICKETSTREAM_KAFKA_BOOTSTRAP": infrastructure.kafka_bootstrap,
        "TICKETSTREAM_MONGO_URL": infrastructure.mongo_url,
        "TICKETSTREAM_TOPIC_PREFIX": f"{isolation}.",
        "TICKETSTREAM_DATABASE_PREFIX": isolation,
        "TICKETSTREAM_TOPIC_PARTITIONS": "3",
        "TICKETSTREAM_ENV": "test",
        "TICKETSTREAM_HANDLER_RETRY_BACKOFF_MS": "20",
        "TICKETSTREAM_OUTBOX_POLL_MS": "50",
    }


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
