"""Kafka subscribers of ingest. It only produces for now (bounce feedback comes later)."""

from faststream.kafka import KafkaRouter

from ticketstream_ingest.settings import Settings


def create_router(settings: Settings) -> KafkaRouter:
    return KafkaRouter()
