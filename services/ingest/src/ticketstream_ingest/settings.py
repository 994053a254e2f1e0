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


class Settings(PlatformSettings):
    service_name: ClassVar[str] = "ingest"

    smtp_port: int = Field(2525, ge=0, le=65535, description="SMTP listener port; 0 disables it")
    inbound_max_bytes: int = Field(
        25 * 1024 * 1024, ge=1024, description="Largest accepted raw message (SMTP 552 / HTTP 413)"
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

    @model_validator(mode="after")
    def _mailbox_names_are_unique(self) -> "Settings":
        names = [mailbox.name for mailbox in self.imap_mailboxes]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"TICKETSTREAM_IMAP_MAILBOXES names each mailbox once; repeated: {repeated}")
        return self
