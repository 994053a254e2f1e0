"""Pure email handling of ingest: parse a raw RFC 5322 message into what a ticket needs.

No IO here. `now` and the support domain are parameters so that the rules are testable.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass, field
from email import policy
from email.header import decode_header, make_header
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

from ticketstream.contracts.models import Person

MESSAGE_ID_PATTERN = re.compile(r"<[^<>\s]+>")
MAX_SUBJECT_LENGTH = 500
AUTO_SUBMITTED_VALUES_OK = {"", "no"}


class InvalidEmailError(ValueError):
    """The input is not an email Ticketstream can turn into a ticket; the message says why."""


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


class _TextExtractor(HTMLParser):
    SKIPPED = frozenset({"script", "style", "head"})
    BREAKS = frozenset({"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "blockquote"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIPPED:
            self._skipping += 1
        elif tag in self.BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIPPED and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    lines = (" ".join(line.split()) for line in "".join(extractor.parts).splitlines())
    return "\n".join(line for line in lines if line).strip()


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


def _addresses(message: EmailMessage, header: str) -> list[str]:
    values = _header_values(message, header)
    return [address.lower() for _, address in getaddresses(values) if _looks_like_address(address)]


def _looks_like_address(address: str) -> bool:
    local, _, domain = address.rpartition("@")
    return bool(local) and bool(domain)


def _body_text(message: EmailMessage) -> str:
    try:
        part = message.get_body(preferencelist=("plain", "html"))
    except Exception:  # noqa: BLE001 - a broken MIME structure still has its raw text
        part = message
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, UnicodeError):
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if not isinstance(content, str):
        return ""
    if part.get_content_subtype() == "html":
        return html_to_text(content)
    return content.replace("\r\n", "\n").strip()


def _sender(message: EmailMessage) -> Person:
    name, address = parseaddr(_header(message, "From"))
    if not _looks_like_address(address):
        raise InvalidEmailError("the message has no valid From address")
    try:
        Address(addr_spec=address)
    except Exception as error:
        raise InvalidEmailError(f"the From address {address!r} is not valid") from error
    return Person(email=address.lower(), name=name or None)


def _is_auto_submitted(message: EmailMessage) -> bool:
    auto_submitted = _header(message, "Auto-Submitted").strip().lower()
    precedence = _header(message, "Precedence").strip().lower()
    return (
        auto_submitted not in AUTO_SUBMITTED_VALUES_OK
        or precedence in {"bulk", "junk", "list", "auto_reply"}
        or "X-Autoreply" in message
        or "X-Autorespond" in message
    )


def parse_email(raw: bytes, *, id_domain: str) -> ParsedEmail:
    """Parse `raw` or raise InvalidEmailError with a reason a sender can act on."""
    if not raw.strip():
        raise InvalidEmailError("the message is empty")
    header_block = raw.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
    if b":" not in header_block.split(b"\n", 1)[0]:
        raise InvalidEmailError("the body is not an RFC 5322 message: it does not start with headers")
    message = BytesParser(policy=policy.default).parsebytes(raw)
    if not isinstance(message, EmailMessage):  # pragma: no cover - policy.default guarantees it
        raise InvalidEmailError("the message could not be parsed")
    if "From" not in message:
        raise InvalidEmailError("the body is not an email: it has no From header")
    sender = _sender(message)
    text = _body_text(message)
    content_hash = hashlib.sha256(raw).hexdigest()
    found_ids = _message_ids(_header(message, "Message-ID"))
    message_id = (
        found_ids[0] if found_ids else f"<{uuid.uuid5(uuid.NAMESPACE_URL, content_hash)}@{id_domain}>"
    )
    subject = " ".join(_header(message, "Subject").split())[:MAX_SUBJECT_LENGTH]
    in_reply_to = _message_ids(_header(message, "In-Reply-To"))
    return ParsedEmail(
        message_id=message_id,
        message_id_was_generated=not found_ids,
        in_reply_to=in_reply_to[0] if in_reply_to else None,
        references=_message_ids(_header(message, "References")),
        sender=sender,
        recipients=_addresses(message, "To"),
        cc=_addresses(message, "Cc"),
        subject=subject or "(no subject)",
        text_body=text,
        auto_submitted=_is_auto_submitted(message),
        content_hash=content_hash,
    )
