"""Settings of the notify service."""

from typing import ClassVar

from pydantic import Field

from ticketstream.settings import PlatformSettings


class Settings(PlatformSettings):
    service_name: ClassVar[str] = "notify"

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
