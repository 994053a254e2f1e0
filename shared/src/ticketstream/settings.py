"""The one place Ticketstream reads its configuration from the environment.

Every setting is `TICKETSTREAM_<NAME>` and has a default that works on a developer machine with
the embedded broker and database. Services subclass `PlatformSettings` and name themselves.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "ticketstream-dev-secret-change-me-0123456789"

SERVICE_NAMES: tuple[str, ...] = ("ingest", "tickets", "sla", "notify", "analytics")


class Environment(StrEnum):
    DEV = "dev"
    TEST = "test"
    PRODUCTION = "production"


class PlatformSettings(BaseSettings):
    """Settings every service shares. `service_name` is fixed by each subclass."""

    model_config = SettingsConfigDict(env_prefix="TICKETSTREAM_", extra="ignore", frozen=True)

    service_name: ClassVar[str] = "platform"

    env: Environment = Field(Environment.DEV, description="dev | test | production")
    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers, comma-separated")
    mongo_url: str = Field(
        "mongodb://127.0.0.1:27017/?directConnection=true",
        description="MongoDB connection string (a replica set: transactions are required)",
    )
    database_prefix: str = Field(
        "ticketstream", description="Each service uses the database <prefix>_<service>"
    )
    topic_prefix: str = Field(
        "", description="Prepended to every topic name and consumer group (isolates deployments)"
    )
    topic_partitions: int = Field(6, ge=1, le=1024, description="Partitions per topic at creation")
    topic_replication: int = Field(1, ge=1, le=7, description="Replication factor at topic creation")
    jwt_secret: str = Field(
        DEV_JWT_SECRET, min_length=16, description="Signs magic links, and HS256 tokens when no JWKS is set"
    )
    magic_link_ttl_hours: int = Field(
        24 * 14, ge=1, le=24 * 365, description="How long a customer's magic link to a ticket works"
    )
    jwt_jwks_url: str | None = Field(None, description="JWKS URL for RS256 tokens (production)")
    jwt_audience: str | None = Field(None, description="Expected `aud` claim, when set")
    jwt_issuer: str | None = Field(None, description="Expected `iss` claim, when set")
    smtp_url: str | None = Field(
        None, description="Outbound SMTP relay, e.g. smtp://127.0.0.1:1025; unset in dev stores mail"
    )
    support_address: str = Field("support@ticketstream.local", description="Inbound support mailbox")
    public_url: str = Field("http://127.0.0.1:8082", description="Base URL customers and agents use")
    ingest_port: int = Field(8081, ge=1, le=65535)
    tickets_port: int = Field(8082, ge=1, le=65535)
    sla_port: int = Field(8083, ge=1, le=65535)
    notify_port: int = Field(8084, ge=1, le=65535)
    analytics_port: int = Field(8085, ge=1, le=65535)
    http_host: str = Field("127.0.0.1", description="Interface the HTTP servers bind to")
    fetch_max_wait_ms: int = Field(
        20, ge=1, le=10_000, description="Consumer fetch wait; low values cut end-to-end latency"
    )
    handler_max_attempts: int = Field(
        4, ge=1, le=20, description="Attempts per message before it goes to <topic>.dlq"
    )
    handler_retry_backoff_ms: int = Field(
        200, ge=0, le=60_000, description="First retry delay; doubles each attempt"
    )
    outbox_poll_ms: int = Field(
        200, ge=10, le=60_000, description="Outbox relay poll interval when nothing pokes it"
    )
    log_level: str = Field("INFO", description="Python log level")

    @model_validator(mode="after")
    def _refuse_dev_secret_in_production(self) -> PlatformSettings:
        # The secret signs customers' magic links even when staff tokens come from a JWKS.
        if self.env is Environment.PRODUCTION and self.jwt_secret == DEV_JWT_SECRET:
            raise ValueError(
                "TICKETSTREAM_JWT_SECRET is the development default; set a real secret when "
                "TICKETSTREAM_ENV=production (it signs magic links, and HS256 tokens without a JWKS)"
            )
        return self

    def port_of(self, service: str) -> int:
        port: int = getattr(self, f"{service}_port")
        return port

    @property
    def port(self) -> int:
        return self.port_of(self.service_name)

    @property
    def database_name(self) -> str:
        return f"{self.database_prefix}_{self.service_name}"

    @property
    def consumer_group(self) -> str:
        return f"{self.topic_prefix}ticketstream-{self.service_name}"

    def topic(self, name: str) -> str:
        """The deployed name of a contract topic (see `ticketstream.contracts.topics`)."""
        return f"{self.topic_prefix}{name}"

    def service_url(self, service: str) -> str:
        return f"http://{self.http_host}:{self.port_of(service)}"


def setting_env_names(settings_class: type[BaseSettings]) -> set[str]:
    """The environment variable names a settings class reads (for deploy consistency checks)."""
    prefix = str(settings_class.model_config.get("env_prefix", ""))
    return {f"{prefix}{name}".upper() for name in settings_class.model_fields}
