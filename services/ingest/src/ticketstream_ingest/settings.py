"""Settings of the ingest service."""

from typing import ClassVar

from pydantic import Field

from ticketstream.settings import PlatformSettings


def _address_list(value: str) -> tuple[str, ...]:
    return tuple(part.strip().lower() for part in value.split(",") if part.strip())


class Settings(PlatformSettings):
    service_name: ClassVar[str] = "ingest"

    smtp_port: int = Field(2525, ge=0, le=65535, description="SMTP listener port; 0 disables it")
    inbound_max_bytes: int = Field(
        25 * 1024 * 1024, ge=1024, description="Largest accepted raw message (SMTP 552 / HTTP 413)"
    )
    inbound_addresses: str = Field(
        "", description="More addresses ingest accepts mail for besides SUPPORT_ADDRESS, comma-separated"
    )
    inbound_blocked_senders: str = Field(
        "", description="Senders held in quarantine: addresses or whole domains, comma-separated"
    )
    inbound_sender_limit_per_hour: int = Field(
        60, ge=0, description="Messages per sender per hour before the rest are held as a loop; 0 = off"
    )
    inbound_webhook_secret: str | None = Field(
        None, description="When set, POST /v1/inbound/email must carry an HMAC-SHA256 signature"
    )
    inbound_webhook_tolerance_seconds: int = Field(
        300, ge=1, description="How old a signed webhook timestamp may be"
    )
    inbound_attachment_max_bytes: int = Field(
        20 * 1024 * 1024, ge=1024, description="Largest single attachment kept from an inbound email"
    )
    smtp_tls_cert_file: str | None = Field(None, description="PEM certificate: enables STARTTLS on SMTP")
    smtp_tls_key_file: str | None = Field(None, description="PEM private key of SMTP_TLS_CERT_FILE")
    portal_attachment_max_bytes: int = Field(
        10 * 1024 * 1024, ge=1, description="Largest file one portal request may attach (HTTP 413)"
    )
    portal_attachments_max_bytes: int = Field(
        25 * 1024 * 1024,
        ge=1,
        description="Most bytes all files of one portal request may add up to (HTTP 413)",
    )
    portal_attachments_max_count: int = Field(
        10, ge=0, le=100, description="Most files one portal request may attach (HTTP 422)"
    )
    portal_rate_per_hour: int = Field(
        10, ge=0, description="Portal requests per sender email address per hour (HTTP 429); 0 turns it off"
    )
    portal_rate_per_ip_per_hour: int = Field(
        30,
        ge=0,
        description="Portal requests per client address (IPv6: per /64) per hour (HTTP 429); 0 turns it off",
    )
    chat_max_bytes: int = Field(
        2 * 1024 * 1024, ge=1024, description="Largest accepted chat transcript request body (HTTP 413)"
    )
    trusted_proxy_hops: int = Field(
        0,
        ge=0,
        le=10,
        description="Reverse proxies in front of ingest whose X-Forwarded-For entries are believed",
    )

    @property
    def extra_inbound_addresses(self) -> tuple[str, ...]:
        return _address_list(self.inbound_addresses)

    @property
    def blocked_senders(self) -> tuple[str, ...]:
        return _address_list(self.inbound_blocked_senders)
