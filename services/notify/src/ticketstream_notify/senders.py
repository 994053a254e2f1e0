"""Outbound email delivery through the SMTP relay (TICKETSTREAM_SMTP_URL)."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import unquote, urlparse

import aiosmtplib

from ticketstream_notify.domain import OutgoingEmail

# Long Message-IDs must not be folded onto a continuation line: some mail clients then fail to
# match them when threading. 998 characters is the line limit of RFC 5322.
UNFOLDED = policy.default.clone(max_line_length=998)


def build_message(mail: OutgoingEmail, *, sender: str) -> EmailMessage:
    message = EmailMessage(policy=UNFOLDED)
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Message-ID"] = mail.message_id
    message["Reply-To"] = mail.reply_to
    message["Date"] = formatdate(usegmt=True)
    # RFC 3834: an agent's reply is written by a person and carries no Auto-Submitted, so the
    # customer's own auto-responder may answer it like any mail; the acknowledgement answers the
    # customer's message, and everything else notify sends on its own.
    if mail.kind != "reply":
        message["Auto-Submitted"] = "auto-replied" if mail.kind == "acknowledgement" else "auto-generated"
    message["X-Ticketstream-Ref"] = mail.ref
    if mail.in_reply_to:
        message["In-Reply-To"] = mail.in_reply_to
    if mail.references:
        message["References"] = " ".join(mail.references)
    message.set_content(mail.text)
    if mail.html:
        # multipart/alternative: clients that show HTML pick it, the rest read the text part.
        message.add_alternative(mail.html, subtype="html")
    return message


class SmtpSender:
    """Sends through an SMTP relay given as smtp://[user:pass@]host:port (smtps:// for TLS)."""

    def __init__(self, smtp_url: str, *, sender: str, timeout: float = 15.0) -> None:
        url = urlparse(smtp_url)
        if url.scheme not in {"smtp", "smtps"} or not url.hostname:
            raise ValueError(f"TICKETSTREAM_SMTP_URL must look like smtp://host:port, got {smtp_url!r}")
        self._host = url.hostname
        self._port = url.port or (465 if url.scheme == "smtps" else 25)
        self._use_tls = url.scheme == "smtps"
        self._username = unquote(url.username) if url.username else None
        self._password = unquote(url.password) if url.password else None
        self._sender = sender
        self._timeout = timeout

    async def send(self, mail: OutgoingEmail) -> None:
        # Flattened here, with our policy: aiosmtplib's own would fold long Message-IDs again.
        raw = build_message(mail, sender=self._sender).as_bytes(policy=UNFOLDED.clone(linesep="\r\n"))
        await aiosmtplib.send(
            raw,
            sender=self._sender,
            recipients=[mail.to],
            hostname=self._host,
            port=self._port,
            use_tls=self._use_tls,
            username=self._username,
            password=self._password,
            timeout=self._timeout,
        )
