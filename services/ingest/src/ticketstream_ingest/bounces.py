"""Delivery-status notifications (RFC 3464 multipart/report): which mail failed, to whom, why.

A bounce is news about a message Ticketstream sent, not a customer request: it becomes
`inbound.bounce.received` with the original Message-ID so the ticket shows the reply bounced.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser
from email.utils import parseaddr

MESSAGE_ID = re.compile(r"<[^<>\s]+>")
STATUS_CODE = re.compile(r"\b([245])\.\d{1,3}\.\d{1,3}\b")
MAX_DIAGNOSTIC = 500
# Non-standard bounces (no delivery-status part) quote the original headers in their text.
QUOTED_MESSAGE_ID = re.compile(r"^\s*Message-ID:\s*(<[^<>\s]+>)", re.IGNORECASE | re.MULTILINE)
QUOTED_FAILED_RECIPIENT = re.compile(r"<([^<>@\s]+@[^<>@\s]+)>:?\s*$", re.MULTILINE)


@dataclass(frozen=True)
class BounceReport:
    failed_recipient: str
    original_message_id: str | None
    permanent: bool
    action: str
    status: str | None
    diagnostic: str | None


def parse_bounce(message: Message, *, from_mailer_daemon: bool, text: str) -> BounceReport | None:
    """The failure a bounce reports, or None when the message is not a bounce.

    A delivery report that only says "delayed", "delivered", "relayed" or "expanded" is not a
    failure and yields None, like any message that is not a report.
    """
    if is_delivery_report(message):
        return _from_delivery_status(message)
    if from_mailer_daemon:
        return _from_plain_text(text)
    return None


def is_delivery_report(message: Message) -> bool:
    """A delivery-status notification (RFC 3464), whatever it reports."""
    return (
        message.get_content_type() == "multipart/report"
        and str(message.get_param("report-type", "", header="content-type")).lower() == "delivery-status"
    )


def _from_delivery_status(message: Message) -> BounceReport | None:
    status_part = _first_part(message, "message/delivery-status")
    if status_part is None:
        return None
    original_id = _original_message_id(message)
    for fields in _recipient_field_groups(status_part):
        action = fields.get("action", "").strip().lower()
        if action != "failed":
            continue
        recipient = _address_of(fields.get("final-recipient") or fields.get("original-recipient") or "")
        if not recipient:
            continue
        status = _status_code(fields.get("status", ""))
        diagnostic = _diagnostic(fields.get("diagnostic-code", ""))
        return BounceReport(
            failed_recipient=recipient,
            original_message_id=original_id,
            permanent=not (status or "5").startswith("4"),
            action=action,
            status=status,
            diagnostic=diagnostic,
        )
    return None


def _first_part(message: Message, content_type: str) -> Message | None:
    for part in message.walk():
        if part.get_content_type() == content_type:
            return part
    return None


def _recipient_field_groups(status_part: Message) -> list[dict[str, str]]:
    """The per-recipient field groups of a delivery-status body (after the per-message group)."""
    payload = status_part.get_payload()
    if isinstance(payload, list):
        # the stdlib parses each group of the delivery-status body as a header block
        groups = [
            {k.lower(): str(v) for k, v in part.items()} for part in payload if isinstance(part, Message)
        ]
    else:
        body = payload if isinstance(payload, str) else ""
        blocks = re.split(r"\r?\n\s*\r?\n", body.strip())
        groups = [{k.lower(): str(v) for k, v in HeaderParser().parsestr(block).items()} for block in blocks]
    return [group for group in groups if "action" in group]


def _original_message_id(message: Message) -> str | None:
    for content_type in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers"):
        part = _first_part(message, content_type)
        if part is None:
            continue
        headers = _embedded_headers(part)
        found = MESSAGE_ID.findall(headers.get("message-id", ""))
        if found:
            return str(found[0])
    return None


def _embedded_headers(part: Message) -> dict[str, str]:
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        return {k.lower(): str(v) for k, v in payload[0].items()}
    if isinstance(payload, str):
        return {k.lower(): str(v) for k, v in HeaderParser().parsestr(payload).items()}
    raw = part.get_payload(decode=True)
    if isinstance(raw, bytes):
        text = raw.decode("utf-8", "replace")
        return {k.lower(): str(v) for k, v in HeaderParser().parsestr(text).items()}
    return {}


def _address_of(field_value: str) -> str:
    # "rfc822; someone@example.com"
    address = field_value.split(";", 1)[-1].strip()
    address = parseaddr(address)[1] or address
    return address.lower() if "@" in address else ""


def _status_code(value: str) -> str | None:
    match = STATUS_CODE.search(value)
    return match.group(0) if match else None


def _diagnostic(value: str) -> str | None:
    text = " ".join(value.split(";", 1)[-1].split())
    return text[:MAX_DIAGNOSTIC] or None


def _from_plain_text(text: str) -> BounceReport | None:
    """A mailer-daemon's plain-text failure notice that quotes the failed recipient and message."""
    recipient_match = QUOTED_FAILED_RECIPIENT.search(text)
    id_match = QUOTED_MESSAGE_ID.search(text)
    if recipient_match is None or id_match is None:
        return None
    status = _status_code(text)
    return BounceReport(
        failed_recipient=recipient_match.group(1).lower(),
        original_message_id=id_match.group(1),
        permanent=not (status or "5").startswith("4"),
        action="failed",
        status=status,
        diagnostic=_diagnostic(text[recipient_match.end() : recipient_match.end() + MAX_DIAGNOSTIC]),
    )
