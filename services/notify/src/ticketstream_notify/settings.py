"""Settings of the notify service."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, model_validator

from ticketstream.settings import Environment, PlatformSettings

# 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h, 8 h; the last delay repeats until the window ends.
DEFAULT_WEBHOOK_RETRY_SCHEDULE = (5.0, 30.0, 120.0, 600.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0)


class Settings(PlatformSettings):
    service_name: ClassVar[str] = "notify"

    brand_name: str = Field(
        "Support", min_length=1, max_length=80, description="Name shown in email headers and sign-offs"
    )
    ingest_public_url: str = Field(
        "http://127.0.0.1:8081", description="Base URL of ingest as customers reach it (CSAT survey links)"
    )
    csat_survey_days: int = Field(
        14, ge=1, le=365, description="How long the survey link in a resolution email works"
    )
    mail_limit_per_recipient: int = Field(
        10,
        ge=0,
        le=10_000,
        description="Emails one address receives per window before the rest wait "
        "for a digest; 0 turns digests off",
    )
    mail_limit_window_seconds: int = Field(
        600, ge=1, le=86_400, description="Length of the per-recipient email window, in seconds"
    )
    stream_poll_ms: int = Field(
        1000, ge=50, le=60_000, description="How often the live notification stream looks for news"
    )
    stream_heartbeat_seconds: int = Field(
        15, ge=1, le=300, description="Idle time after which the live stream sends a heartbeat"
    )

    webhook_allow_private: bool = Field(
        False,
        description="Allow webhook targets on loopback, private or link-local addresses (dev/test only)",
    )
    webhook_retry_schedule_seconds: tuple[float, ...] = Field(
        DEFAULT_WEBHOOK_RETRY_SCHEDULE,
        min_length=1,
        description="Waits between webhook attempts, as a JSON list; the last one repeats",
    )
    webhook_retry_window_seconds: float = Field(
        86_400, gt=0, le=7 * 86_400, description="No webhook attempt later than this after the first"
    )
    webhook_timeout_seconds: float = Field(10, gt=0, le=120, description="Per webhook attempt")
    webhook_disable_after_failed_deliveries: int = Field(
        5, ge=1, le=1000, description="Consecutive deliveries that exhausted their retries before disabling"
    )
    webhook_disable_after_failing_seconds: float = Field(
        3 * 86_400, gt=0, description="Disable a subscription whose every attempt failed for this long"
    )
    webhook_secret_grace_seconds: float = Field(
        86_400, ge=0, le=30 * 86_400, description="How long the previous secret still signs after a rotation"
    )
    webhook_concurrency: int = Field(4, ge=1, le=64, description="Webhook attempts in flight per replica")

    @model_validator(mode="after")
    def _refuse_private_webhooks_in_production(self) -> Settings:
        if self.env is Environment.PRODUCTION and self.webhook_allow_private:
            raise ValueError(
                "TICKETSTREAM_WEBHOOK_ALLOW_PRIVATE is for dev and test: webhook targets on private "
                "networks would let an admin token reach internal services"
            )
        if any(delay < 0 for delay in self.webhook_retry_schedule_seconds):
            raise ValueError("TICKETSTREAM_WEBHOOK_RETRY_SCHEDULE_SECONDS must not hold negative waits")
        return self
