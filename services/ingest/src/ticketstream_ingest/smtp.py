"""SMTP edge of ingest: accepts mail for the support address and its plus-addresses.

A message is answered 250 only after it is stored (with its outbox event in one transaction, or
in quarantine), so an acknowledged message is never lost; other recipients get 550, oversize
messages 552. STARTTLS is offered when a certificate is configured.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from datetime import UTC, datetime
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope
from aiosmtpd.smtp import Session as SmtpSession

from ticketstream.contracts.addressing import is_support_address
from ticketstream.contracts.events import InboundChannel
from ticketstream_ingest.intake import EmailIntake, NotAnEmailError
from ticketstream_ingest.settings import Settings

log = logging.getLogger(__name__)


class SupportMailbox:
    """aiosmtpd handler: the hooks aiosmtpd calls for RCPT and DATA."""

    def __init__(self, intake: EmailIntake, settings: Settings) -> None:
        self._intake = intake
        self._settings = settings

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: SmtpSession, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        accepted = is_support_address(address, self._settings.support_address)
        if not accepted and address.lower() not in self._settings.extra_inbound_addresses:
            return f"550 5.1.1 <{address}>: no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: SmtpSession, envelope: Envelope
    ) -> str:
        raw = envelope.original_content or b""
        if len(raw) > self._settings.inbound_max_bytes:
            return "552 5.3.4 message exceeds the size limit"
        try:
            result = await self._intake.receive(
                raw, channel=InboundChannel.SMTP, now=datetime.now(UTC), delivered_to=envelope.rcpt_tos
            )
        except NotAnEmailError as error:
            return f"554 5.6.0 {error}"
        except Exception:
            log.exception("could not store an inbound message")
            return "451 4.3.0 temporary failure, please retry"
        return f"250 2.0.0 {result.status.value} as {result.inbound_id}"


class SmtpListener:
    def __init__(self, intake: EmailIntake, settings: Settings) -> None:
        self._handler = SupportMailbox(intake, settings)
        self._settings = settings
        self._server: asyncio.Server | None = None
        self._tls_context_cached: ssl.SSLContext | None = None

    def _tls_context(self) -> ssl.SSLContext | None:
        cert, key = self._settings.smtp_tls_cert_file, self._settings.smtp_tls_key_file
        if not cert:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        return context

    def _protocol(self) -> Any:
        return SMTP(
            self._handler,
            tls_context=self._tls_context_cached,
            data_size_limit=self._settings.inbound_max_bytes,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=self._settings.support_address.partition("@")[2] or "ticketstream",
            ident="Ticketstream ingest",
        )

    async def start(self) -> None:
        self._tls_context_cached = self._tls_context()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._protocol, host=self._settings.http_host, port=self._settings.smtp_port
        )
        log.info("SMTP listener on %s:%d", self._settings.http_host, self._settings.smtp_port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
