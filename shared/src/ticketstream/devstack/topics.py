"""Create every topic up front, with fixed partitions: nothing relies on auto-creation."""

from __future__ import annotations

import contextlib

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from ticketstream.contracts.topics import COMPACTED_TOPICS, all_topics
from ticketstream.settings import PlatformSettings


async def create_topics(settings: PlatformSettings) -> list[str]:
    """Create the missing topics; return the names created (existing ones are left alone)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="ticketstream-topics")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = []
        for name in all_topics():
            deployed = settings.topic(name)
            if deployed in existing:
                continue
            config = {"cleanup.policy": "compact"} if name in COMPACTED_TOPICS else {}
            wanted.append(
                NewTopic(
                    deployed,
                    num_partitions=settings.topic_partitions,
                    replication_factor=settings.topic_replication,
                    topic_configs=config,
                )
            )
        for topic in wanted:
            # Another run of the creating job may win the race for a topic: that is fine.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics([topic])
        return [topic.name for topic in wanted]
    finally:
        await admin.close()
