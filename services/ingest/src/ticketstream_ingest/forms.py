"""Pure rules of the channels that are not email: the portal form and chat transcripts.

A request from either becomes one `inbound.message.received` event with a Message-ID of its own
(`<portal-{id}@{support domain}>`), which is also its thread id: the ticket made from it carries
it as `email_thread_id`, and that is how ingest learns which ticket a request became.
No IO here: ids, the support domain and `now` are parameters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from ticketstream.contracts.addressing import domain_of, is_free_mail
from ticketstream.contracts.events import (
    AttachmentRef,
    ChatAuthorRole,
    ChatLine,
    InboundChannel,
    InboundMessageReceived,
)
from ticketstream.contracts.models import Csat, Person, Priority, TicketType

MAX_NAME_CHARS = 200
MAX_SUBJECT_CHARS = 250
MAX_DESCRIPTION_CHARS = 20_000
MAX_CATEGORY_CHARS = 100
MAX_CHAT_LINES = 500
MAX_CHAT_LINE_CHARS = 5_000
MAX_CSAT_COMMENT_CHARS = 2_000
DERIVED_SUBJECT_CHARS = 80
# A chat widget's clock may run a little ahead of ours.
FUTURE_TOLERANCE = timedelta(minutes=2)
DEFAULT_ID_DOMAIN = "ticketstream.local"

_CHANNEL_PREFIXES = {InboundChannel.PORTAL: "portal", InboundChannel.CHAT: "chat"}
_REQUEST_MESSAGE_ID = re.compile(r"<(portal|chat)-[0-9a-f-]{8,64}@(?P<domain>[^<>@\s]+)>")


class RequestStatus(StrEnum):
    PENDING = "pending"
    CREATED = "created"


class FormError(ValueError):
    """A submission that cannot become a ticket; `field` names the input at fault."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class AttachmentTooLargeError(FormError):
    """A file, or all files together, exceed the configured limits (HTTP 413)."""


@dataclass(frozen=True)
class PortalSubmission:
    sender: Person
    subject: str
    description: str
    priority: Priority | None = None
    ticket_type: TicketType | None = None
    category: str | None = None


@dataclass(frozen=True)
class ChatSubmission:
    sender: Person
    subject: str | None
    transcript: tuple[ChatLine, ...]


@dataclass(frozen=True)
class AttachmentLimits:
    max_file_bytes: int
    max_total_bytes: int
    max_files: int


def id_domain(support_address: str) -> str:
    """The domain of generated Message-IDs: the support mailbox's."""
    return support_address.partition("@")[2].strip().lower() or DEFAULT_ID_DOMAIN


def request_message_id(channel: InboundChannel, request_id: str, *, domain: str) -> str:
    return f"<{_CHANNEL_PREFIXES[channel]}-{request_id}@{domain}>"


def is_request_message_id(message_id: str | None, *, domain: str) -> bool:
    """Whether a thread id is one ingest generated for a portal or chat request."""
    match = _REQUEST_MESSAGE_ID.fullmatch(message_id or "")
    return match is not None and match.group("domain").lower() == domain


def without_controls(text: str) -> str:
    """Control characters removed, except tabs and line breaks (CRLF becomes LF)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(char for char in text if char in "\t\n" or not _is_control(char))


def _is_control(char: str) -> bool:
    code = ord(char)
    return code < 0x20 or 0x7F <= code < 0xA0


def one_line(text: str) -> str:
    """Whitespace (newlines included) collapsed to single spaces, ends trimmed."""
    return " ".join(text.split())


def shortened(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word boundary when one is near, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit // 2:
        cut = cut[:space]
    return f"{cut.rstrip()}…"


# --- attachments ---------------------------------------------------------------------------


def check_attachment_sizes(sizes: list[tuple[str, int]], limits: AttachmentLimits) -> None:
    """Refuse too many files, a file over the per-file limit, or too many bytes in total."""
    if len(sizes) > limits.max_files:
        raise FormError(
            f"at most {limits.max_files} attachments per request (got {len(sizes)})", field="attachments"
        )
    for name, size in sizes:
        if size > limits.max_file_bytes:
            raise AttachmentTooLargeError(
                f"attachment {name!r} is {size} bytes; the limit per file is {limits.max_file_bytes} bytes",
                field="attachments",
            )
    total = sum(size for _, size in sizes)
    if total > limits.max_total_bytes:
        raise AttachmentTooLargeError(
            f"the attachments add up to {total} bytes; the limit per request is "
            f"{limits.max_total_bytes} bytes",
            field="attachments",
        )


# --- chat ----------------------------------------------------------------------------------


def check_transcript(lines: tuple[ChatLine, ...], *, now: datetime) -> None:
    """A transcript a ticket can be made from: bounded, with a customer line, nothing from the future."""
    if not lines:
        raise FormError("the transcript has no lines", field="transcript")
    if len(lines) > MAX_CHAT_LINES:
        raise FormError(
            f"the transcript has {len(lines)} lines; at most {MAX_CHAT_LINES} are accepted",
            field="transcript",
        )
    for number, line in enumerate(lines):
        if not line.text.strip():
            raise FormError(f"line {number} of the transcript is empty", field=f"transcript.{number}.text")
        if len(line.text) > MAX_CHAT_LINE_CHARS:
            raise FormError(
                f"line {number} of the transcript is longer than {MAX_CHAT_LINE_CHARS} characters",
                field=f"transcript.{number}.text",
            )
        if line.sent_at > now + FUTURE_TOLERANCE:
            raise FormError(
                f"line {number} of the transcript was sent in the future ({line.sent_at.isoformat()})",
                field=f"transcript.{number}.sent_at",
            )
    if not any(line.author_role is ChatAuthorRole.CUSTOMER for line in lines):
        raise FormError("the transcript has no line written by the customer", field="transcript")


def chat_subject(subject: str | None, lines: tuple[ChatLine, ...]) -> str:
    """The given subject, or the customer's first line, shortened to a title."""
    given = one_line(subject or "")
    if given:
        return shortened(given, MAX_SUBJECT_CHARS)
    first = next(line for line in lines if line.author_role is ChatAuthorRole.CUSTOMER)
    return shortened(one_line(first.text), DERIVED_SUBJECT_CHARS) or "Chat conversation"


def render_transcript(lines: tuple[ChatLine, ...]) -> str:
    """The conversation as plain text, for readers of `text_body` that do not know transcripts."""
    blocks = []
    for line in lines:
        who = line.author_name or line.author_role.value.capitalize()
        when = line.sent_at.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
        blocks.append(f"{who} ({line.author_role.value}), {when}:\n{line.text.strip()}")
    return "\n\n".join(blocks)


# --- events ----------------------------------------------------------------------------------


def portal_event(
    submission: PortalSubmission,
    *,
    request_id: str,
    message_id: str,
    attachments: list[AttachmentRef],
    now: datetime,
) -> InboundMessageReceived:
    return InboundMessageReceived(
        inbound_id=request_id,
        channel=InboundChannel.PORTAL,
        message_id=message_id,
        email_thread_id=message_id,
        sender=submission.sender,
        subject=submission.subject,
        text_body=submission.description,
        attachments=attachments,
        received_at=now,
        sender_domain=domain_of(submission.sender.email),
        sender_free_mail=is_free_mail(submission.sender.email),
        priority=submission.priority,
        ticket_type=submission.ticket_type,
        category=submission.category,
    )


def chat_event(
    submission: ChatSubmission, *, request_id: str, message_id: str, now: datetime
) -> InboundMessageReceived:
    return InboundMessageReceived(
        inbound_id=request_id,
        channel=InboundChannel.CHAT,
        message_id=message_id,
        email_thread_id=message_id,
        sender=submission.sender,
        subject=chat_subject(submission.subject, submission.transcript),
        text_body=render_transcript(submission.transcript),
        received_at=now,
        sender_domain=domain_of(submission.sender.email),
        sender_free_mail=is_free_mail(submission.sender.email),
        transcript=list(submission.transcript),
    )


# --- satisfaction answers ----------------------------------------------------------------------


def csat_answer(score: int, comment: str | None) -> Csat:
    """The answer as the contract carries it: a blank comment is no comment."""
    text = (comment or "").strip()
    return Csat(score=score, comment=text or None)
