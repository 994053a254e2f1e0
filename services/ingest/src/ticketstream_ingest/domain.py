"""Pure email handling of ingest: parse a raw RFC 5322 message into what a ticket needs.

No IO here. The support address is a parameter so that the rules are testable.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.header import decode_header, make_header
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr

from ticketstream.contracts.addressing import domain_of, is_free_mail, is_support_address
from ticketstream.contracts.events import (
    AttachmentRef,
    AuthenticationVerdicts,
    InboundBounceReceived,
    InboundChannel,
    InboundMessageReceived,
)
from ticketstream.contracts.models import Person
from ticketstream_ingest.bounces import BounceReport, is_delivery_report, parse_bounce
from ticketstream_ingest.mime import RawAttachment, html_to_text, read_body
from ticketstream_ingest.noise import MAILER_DAEMON, auto_submitted_reason
from ticketstream_ingest.replies import extract_reply

MESSAGE_ID_PATTERN = re.compile(r"<[^<>\s]+>")
MAX_SUBJECT_LENGTH = 500
TICKET_REF = r"TKT-\d{1,12}"
PLUS_ADDRESS_REF = re.compile(rf"^[^+@]+\+({TICKET_REF})@", re.IGNORECASE)
SUBJECT_REF = re.compile(rf"\[({TICKET_REF})\]", re.IGNORECASE)
AUTHENTICATION_VERDICT = re.compile(r"\b(spf|dkim|dmarc)\s*=\s*([a-z]+)", re.IGNORECASE)
# A forward's body is what the customer wants us to read, quoted headers and all.
FORWARD_SUBJECT = re.compile(r"^\s*(fwd?|fw|wg|tr|rv|i|doorst|vs|vb)\s*:", re.IGNORECASE)
# Headers that may name the address a message was delivered to, besides To and Cc.
DELIVERY_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To")

__all__ = [
    "InvalidEmailError",
    "NotAnEmailError",
    "ParsedEmail",
    "bounce_event",
    "html_to_text",
    "message_event",
    "parse_email",
]


class InvalidEmailError(ValueError):
    """The input is not an email Ticketstream can turn into a ticket; the message says why."""


class NotAnEmailError(InvalidEmailError):
    """The input is not email at all (empty, or no header block): there is nothing to keep."""


@dataclass(frozen=True)
class ParsedEmail:
    message_id: str
    message_id_was_generated: bool
    in_reply_to: str | None
    references: list[str]
    sender: Person
    recipients: list[str]
    cc: list[str]
    subject: str
    text_body: str
    auto_submitted: bool
    content_hash: str
    auto_submitted_reason: str | None = None
    html_body: str | None = None
    attachments: tuple[RawAttachment, ...] = ()
    bounce: BounceReport | None = None
    # A delivery report that is not a failure (delayed, delivered, relayed): news, not a request.
    delivery_notice: bool = False
    addressed_ref: str | None = None
    subject_ref: str | None = None
    authentication: AuthenticationVerdicts | None = None
    reply_text: str | None = None
    thread_root: str = field(init=False)

    def __post_init__(self) -> None:
        root = self.references[0] if self.references else self.in_reply_to or self.message_id
        object.__setattr__(self, "thread_root", root)

    @property
    def dedupe_key(self) -> str:
        """Message-ID when the sender gave one, else the content hash."""
        if self.message_id_was_generated:
            return f"sha256:{self.content_hash}"
        return f"mid:{self.message_id}"

    @property
    def sender_domain(self) -> str:
        return domain_of(self.sender.email)

    @property
    def sender_free_mail(self) -> bool:
        return is_free_mail(self.sender.email)


def _header_values(message: EmailMessage, name: str) -> list[str]:
    """Every value of a header, decoded; a value the header parser chokes on is used raw.

    Malformed headers are common in real mail and must never turn into a crash.
    """
    try:
        return [str(value) for value in message.get_all(name, [])]
    except Exception:  # noqa: BLE001 - the stdlib header parser raises a variety of errors
        return [_decoded(raw) for key, raw in message.raw_items() if key.lower() == name.lower()]


def _decoded(raw: str) -> str:
    try:
        return str(make_header(decode_header(raw)))
    except Exception:  # noqa: BLE001 - undecodable encoded-words stay as they came
        return raw


def _header(message: EmailMessage, name: str) -> str:
    values = _header_values(message, name)
    return values[0] if values else ""


def _message_ids(value: str | None) -> list[str]:
    return MESSAGE_ID_PATTERN.findall(value or "")


def _addresses(message: EmailMessage, *headers: str) -> list[str]:
    values = [value for header in headers for value in _header_values(message, header)]
    found = (address.lower() for _, address in getaddresses(values) if _looks_like_address(address))
    return list(dict.fromkeys(found))


def _looks_like_address(address: str) -> bool:
    local, _, domain = address.rpartition("@")
    return bool(local) and bool(domain)


def _sender(message: EmailMessage) -> Person:
    name, address = parseaddr(_header(message, "From"))
    if not _looks_like_address(address):
        raise InvalidEmailError("the message has no valid From address")
    try:
        Address(addr_spec=address)
    except Exception as error:
        raise InvalidEmailError(f"the From address {address!r} is not valid") from error
    return Person(email=address.lower(), name=name or None)


def _addressed_ref(addresses: list[str], support_address: str) -> str | None:
    for address in addresses:
        match = PLUS_ADDRESS_REF.match(address)
        if match and is_support_address(address, support_address):
            return match.group(1).upper()
    return None


def _subject_ref(subject: str) -> str | None:
    match = SUBJECT_REF.search(subject)
    return match.group(1).upper() if match else None


def _authentication(message: EmailMessage, trusted_server: str | None) -> AuthenticationVerdicts | None:
    """SPF/DKIM/DMARC verdicts of the receiving server's Authentication-Results header.

    With `trusted_server` (its authserv-id), only a header that server wrote counts: any other
    could have been written by the sender. Without it, the topmost header is taken.
    """
    values = _header_values(message, "Authentication-Results")
    if trusted_server is not None:
        wanted = trusted_server.strip().lower()
        values = [value for value in values if value.split(";", 1)[0].strip().lower() == wanted]
    if not values:
        return None
    verdicts: dict[str, str] = {}
    for method, result in AUTHENTICATION_VERDICT.findall(values[0]):
        verdicts.setdefault(method.lower(), result.lower())
    return AuthenticationVerdicts.model_validate(verdicts) if verdicts else None


def _reply_text(text: str, html: str | None, subject: str) -> str | None:
    """The new text of a reply, or None when nothing was cut (or all of it would be).

    The plain text is tried first, so the reply keeps the lines the sender wrote; the HTML's
    quote containers decide only when the text shows no quote.
    """
    if FORWARD_SUBJECT.match(subject):
        return None
    extracted = extract_reply(text)
    if not extracted.was_cut and html is not None:
        extracted = extract_reply(text, html=html)
    return extracted.text if extracted.was_cut and extracted.text else None


def _check_looks_like_email(raw: bytes) -> None:
    if not raw.strip():
        raise NotAnEmailError("the message is empty")
    header_block = raw.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
    if b":" not in header_block.split(b"\n", 1)[0]:
        raise NotAnEmailError("the body is not an RFC 5322 message: it does not start with headers")


def parse_email(
    raw: bytes,
    *,
    support_address: str,
    delivered_to: Sequence[str] = (),
    trusted_authserv_id: str | None = None,
) -> ParsedEmail:
    """Parse `raw` or raise InvalidEmailError with a reason a sender can act on.

    `delivered_to` are envelope recipients known from the transport (SMTP RCPT TO);
    `trusted_authserv_id` names the server whose Authentication-Results count. Whatever
    else the standard library trips over in hostile input (nesting deep enough to exhaust the
    stack, codecs that raise odd errors) is reported as InvalidEmailError too, never raised raw.
    """
    try:
        return _parse(
            raw,
            support_address=support_address,
            delivered_to=delivered_to,
            trusted_authserv_id=trusted_authserv_id,
        )
    except InvalidEmailError:
        raise
    except (
        RecursionError,
        UnicodeError,
        LookupError,
        ValueError,
        TypeError,
        AttributeError,
        IndexError,
    ) as error:
        raise InvalidEmailError(f"the message could not be parsed ({type(error).__name__})") from error


def _parse(
    raw: bytes, *, support_address: str, delivered_to: Sequence[str], trusted_authserv_id: str | None
) -> ParsedEmail:
    _check_looks_like_email(raw)
    message = BytesParser(policy=policy.default).parsebytes(raw)
    if not isinstance(message, EmailMessage):  # pragma: no cover - policy.default guarantees it
        raise InvalidEmailError("the message could not be parsed")
    if "From" not in message:
        raise InvalidEmailError("the body is not an email: it has no From header")
    sender = _sender(message)
    body = read_body(message)
    content_hash = hashlib.sha256(raw).hexdigest()
    found_ids = _message_ids(_header(message, "Message-ID"))
    id_domain = support_address.partition("@")[2] or "ticketstream.local"
    message_id = (
        found_ids[0] if found_ids else f"<{uuid.uuid5(uuid.NAMESPACE_URL, content_hash)}@{id_domain}>"
    )
    subject = " ".join(_header(message, "Subject").split())[:MAX_SUBJECT_LENGTH]
    in_reply_to = _message_ids(_header(message, "In-Reply-To"))
    recipients = _addresses(message, "To")
    cc = _addresses(message, "Cc")
    bounce = parse_bounce(message, from_mailer_daemon=bool(MAILER_DAEMON.match(sender.email)), text=body.text)
    noise = auto_submitted_reason(lambda name: _header(message, name), sender=sender.email, subject=subject)
    return ParsedEmail(
        message_id=message_id,
        message_id_was_generated=not found_ids,
        in_reply_to=in_reply_to[0] if in_reply_to else None,
        references=_message_ids(" ".join(_header_values(message, "References"))),
        sender=sender,
        recipients=recipients,
        cc=cc,
        subject=subject or "(no subject)",
        text_body=body.text,
        auto_submitted=noise is not None,
        auto_submitted_reason=noise,
        content_hash=content_hash,
        html_body=body.html,
        attachments=body.attachments,
        bounce=bounce,
        delivery_notice=bounce is None and is_delivery_report(message),
        addressed_ref=_addressed_ref(
            [*(a.lower() for a in delivered_to), *recipients, *cc, *_addresses(message, *DELIVERY_HEADERS)],
            support_address,
        ),
        subject_ref=_subject_ref(subject),
        authentication=_authentication(message, trusted_authserv_id),
        reply_text=None
        if bounce or is_delivery_report(message)
        else _reply_text(body.text, body.html, subject),
    )


# Kafka refuses records over 1 MB by default, and tickets repeats the text in its own events:
# what goes out is bounded, and the raw message keeps everything.
MAX_EVENT_TEXT_BYTES = 128 * 1024
MAX_EVENT_HTML_BYTES = 256 * 1024
MAX_EVENT_REFERENCES = 50


def clip_utf8(text: str, max_bytes: int) -> tuple[str, bool]:
    """`text` cut to at most `max_bytes` of UTF-8 (never inside a character); whether it was cut."""
    encoded = text.encode("utf-8", "surrogatepass")
    if len(encoded) <= max_bytes:
        return text, False
    return encoded[:max_bytes].decode("utf-8", "ignore"), True


def _bounded_references(references: list[str]) -> tuple[list[str], bool]:
    """The root (first) and the newest references: those that thread a reply."""
    if len(references) <= MAX_EVENT_REFERENCES:
        return references, False
    return [references[0], *references[-(MAX_EVENT_REFERENCES - 1) :]], True


def message_event(
    parsed: ParsedEmail,
    *,
    inbound_id: str,
    channel: InboundChannel,
    now: datetime,
    html_body: str | None,
    attachments: list[AttachmentRef],
) -> InboundMessageReceived:
    """The `inbound.message.received` event of an accepted message, bounded in size.

    `html_body` is the sanitised HTML; sanitise `clip_utf8(parsed.html_body, MAX_EVENT_HTML_BYTES)`
    so that a cut never leaves a broken tag behind.
    """
    text, text_cut = clip_utf8(parsed.text_body, MAX_EVENT_TEXT_BYTES)
    reply, reply_cut = (
        clip_utf8(parsed.reply_text, MAX_EVENT_TEXT_BYTES) if parsed.reply_text else (None, False)
    )
    html, html_cut = clip_utf8(html_body, MAX_EVENT_HTML_BYTES) if html_body else (html_body, False)
    html_cut = html_cut or bool(parsed.html_body and len(parsed.html_body.encode()) > MAX_EVENT_HTML_BYTES)
    references, references_cut = _bounded_references(parsed.references)
    return InboundMessageReceived(
        inbound_id=inbound_id,
        channel=channel,
        message_id=parsed.message_id,
        in_reply_to=parsed.in_reply_to,
        references=references,
        email_thread_id=parsed.thread_root,
        sender=parsed.sender,
        recipients=parsed.recipients,
        cc=parsed.cc,
        subject=parsed.subject,
        text_body=text,
        html_body=html,
        attachments=attachments,
        auto_submitted=parsed.auto_submitted,
        auto_submitted_reason=parsed.auto_submitted_reason,
        received_at=now,
        reply_text=reply,
        addressed_ref=parsed.addressed_ref,
        subject_ref=parsed.subject_ref,
        sender_domain=parsed.sender_domain,
        sender_free_mail=parsed.sender_free_mail,
        authentication=parsed.authentication,
        truncated=text_cut or reply_cut or html_cut or references_cut,
    )


def bounce_event(
    parsed: ParsedEmail, bounce: BounceReport, *, inbound_id: str, now: datetime
) -> InboundBounceReceived:
    """The `inbound.bounce.received` event of a delivery failure report."""
    return InboundBounceReceived(
        inbound_id=inbound_id,
        bounced_address=bounce.failed_recipient,
        original_message_id=bounce.original_message_id,
        permanent=bounce.permanent,
        diagnostic=bounce.diagnostic or bounce.status,
        received_at=now,
    )
