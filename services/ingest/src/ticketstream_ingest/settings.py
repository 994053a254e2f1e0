"""Settings of the ingest service."""

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from ticketstream.settings import PlatformSettings

# IMAP quoted strings carry 7-bit text; folder names beyond ASCII would need modified UTF-7.
PRINTABLE_ASCII = r"^[\x20-\x7e]+$"


class ImapMailbox(BaseModel):
    """One existing mailbox the IMAP connector reads (TICKETSTREAM_IMAP_MAILBOXES is a JSON list)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
        description="Stable id of the mailbox: its UID cursor and lease are kept under this name",
    )
    host: str = Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.:_-]+$")
    port: int = Field(993, ge=1, le=65535)
    username: str = Field(min_length=1, max_length=256, pattern=PRINTABLE_ASCII)
    password: SecretStr = Field(min_length=1, description="Never logged")
    folder: str = Field("INBOX", min_length=1, max_length=256, pattern=PRINTABLE_ASCII)
    tls: bool = Field(True, description="Implicit TLS (port 993) with certificate checks; false: plain")

    @property
    def source(self) -> str:
        """Where the messages come from: a cursor kept for another source is not reused."""
        return f"{self.username}@{self.host}:{self.port}/{self.folder}"


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
    inbound_authserv_id: str | None = Field(
        None, description="The receiving mail server whose Authentication-Results headers are believed"
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
        256 * 1024,
        ge=1024,
        le=512 * 1024,
        description="Largest chat transcript request body (HTTP 413); bounded so its event fits Kafka",
    )
    chat_secret: str | None = Field(
        None, description="When set, POST /v1/inbound/chat must be signed like the email webhook"
    )
    trusted_proxy_hops: int = Field(
        0,
        ge=0,
        le=10,
        description="Reverse proxies in front of ingest whose X-Forwarded-For entries are believed",
    )

    imap_mailboxes: list[ImapMailbox] = Field(
        default_factory=list,
        description="Mailboxes to pull over IMAP, as a JSON list; empty turns the connector off",
    )
    imap_poll_seconds: float = Field(
        30.0, ge=0.1, le=3600, description="Longest wait between two looks at a mailbox (IDLE wakes sooner)"
    )
    imap_lease_seconds: float = Field(
        30.0, ge=1, le=3600, description="A dead replica's mailboxes move to another one after this"
    )

    @property
    def extra_inbound_addresses(self) -> tuple[str, ...]:
        return _address_list(self.inbound_addresses)

    @property
    def blocked_senders(self) -> tuple[str, ...]:
        return _address_list(self.inbound_blocked_senders)

    @model_validator(mode="after")
    def _mailbox_names_are_unique(self) -> "Settings":
        names = [mailbox.name for mailbox in self.imap_mailboxes]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"TICKETSTREAM_IMAP_MAILBOXES names each mailbox once; repeated: {repeated}")
        return self
