"""Settings of the ingest service."""

from typing import ClassVar

from pydantic import Field

from ticketstream.settings import PlatformSettings


class Settings(PlatformSettings):
    service_name: ClassVar[str] = "ingest"

    smtp_port: int = Field(2525, ge=0, le=65535, description="SMTP listener port; 0 disables it")
    inbound_max_bytes: int = Field(
        25 * 1024 * 1024, ge=1024, description="Largest accepted raw message (SMTP 552 / HTTP 413)"
    )
