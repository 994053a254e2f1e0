"""A whole stack (five service processes) on the session's broker and database, per module."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from ticketstream.devstack.processes import SERVICE_NAMES, free_port
from ticketstream.devstack.stack import DevStack


@pytest.fixture(scope="module")
def stack(infrastructure, tmp_path_factory) -> Iterator[DevStack]:
    yield from launch_stack(infrastructure, tmp_path_factory)


def launch_stack(infrastructure, tmp_path_factory, **settings: str) -> Iterator[DevStack]:
    """Start the five services; `settings` adds TICKETSTREAM_<NAME> values (e.g. SMTP_URL)."""
    tag = f"e{uuid.uuid4().hex[:8]}"
    environ = dict(os.environ)
    environ.update(
        {
            "TICKETSTREAM_KAFKA_BOOTSTRAP": infrastructure.kafka_bootstrap,
            "TICKETSTREAM_MONGO_URL": infrastructure.mongo_url,
            "TICKETSTREAM_TOPIC_PREFIX": f"{tag}.",
            "TICKETSTREAM_DATABASE_PREFIX": tag,
            "TICKETSTREAM_TOPIC_PARTITIONS": "3",
            "TICKETSTREAM_ENV": "test",
            "TICKETSTREAM_SMTP_PORT": str(free_port()),
            **{f"TICKETSTREAM_{name.upper()}_PORT": str(free_port()) for name in SERVICE_NAMES},
        }
    )
    # Links in customer email point at the tickets service of this stack.
    environ["TICKETSTREAM_PUBLIC_URL"] = f"http://127.0.0.1:{environ['TICKETSTREAM_TICKETS_PORT']}"
    # ...and survey links at its ingest.
    environ["TICKETSTREAM_INGEST_PUBLIC_URL"] = f"http://127.0.0.1:{environ['TICKETSTREAM_INGEST_PORT']}"
    environ.update({f"TICKETSTREAM_{name.upper()}": value for name, value in settings.items()})
    dev_stack = DevStack(state_dir=tmp_path_factory.mktemp(tag), environ=environ)
    dev_stack.create_topics()
    dev_stack.start_services()
    try:
        dev_stack.wait_ready(timeout=120)
        yield dev_stack
    finally:
        dev_stack.stop()
