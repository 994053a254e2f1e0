"""Reading the parts of a MIME message: text in whatever charset it claims, HTML, attachments.

Pure functions over `email.message.EmailMessage`; nothing here raises on broken input, because
real mail is full of wrong charset labels, missing boundaries and truncated encodings.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from email.message import EmailMessage, Message
from html.parser import HTMLParser

# Mail clients label Windows-1252 text as ISO-8859-1 all the time (browsers decode that label
# as Windows-1252 for the same reason); text labelled ASCII with 8-bit bytes is usually UTF-8.
LATIN1_LABELS = frozenset({"iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1"})
ASCII_LABELS = frozenset({"us-ascii", "ascii"})
FALLBACK_CHARSETS = ("utf-8", "cp1252")
MAX_BROKEN_UTF8 = 3
NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/]+")
INLINE_TEXT_TYPES = frozenset({"text/plain", "text/html"})


@dataclass(frozen=True)
class RawAttachment:
    """A file part of a message, before it is stored: bytes and what the sender said about them."""

    filename: str | None
    declared_type: str
    data: bytes
    inline: bool
    content_id: str | None


@dataclass(frozen=True)
class MessageBody:
    text: str
    html: str | None
    attachments: tuple[RawAttachment, ...]


def decode_text(data: bytes, charset: str | None) -> str:
    """Text of `data` in its declared charset, else UTF-8, else Windows-1252; never raises."""
    for candidate in _charsets_to_try(charset):
        try:
            return data.decode(candidate)
        except (LookupError, UnicodeError):  # UnicodeError: codecs such as idna raise the base class
            if candidate == "utf-8" and (mostly := _mostly_utf8(data)) is not None:
                return mostly
    return data.decode("latin-1")  # every byte sequence decodes as latin-1


def _mostly_utf8(data: bytes) -> str | None:
    """UTF-8 text with a few broken bytes (a body cut mid-character), or None when it is not UTF-8.

    Text in a legacy charset has no valid multi-byte UTF-8 sequences at all, while real UTF-8
    with one damaged spot is all valid sequences but for that spot.
    """
    text = data.decode("utf-8", "replace")
    broken = text.count("\ufffd")
    valid_non_ascii = sum(1 for ch in text if ord(ch) > 127 and ch != "\ufffd")
    return text if valid_non_ascii and broken <= MAX_BROKEN_UTF8 else None


def _charsets_to_try(declared: str | None) -> list[str]:
    label = (declared or "").strip().strip('"').lower()
    if label in LATIN1_LABELS:
        first = ["cp1252"]
    elif label in ASCII_LABELS or not label:
        first = []
    else:
        first = [label]
    return [*first, *(charset for charset in FALLBACK_CHARSETS if charset not in first)]


def part_text(part: Message) -> str:
    """The decoded text of one text part, with transfer encoding and charset undone."""
    payload = _decoded_payload(part)
    if isinstance(payload, bytes):
        text = decode_text(payload, part.get_content_charset())
    else:
        raw = part.get_payload()
        text = raw if isinstance(raw, str) else ""
    return text.replace("\r\n", "\n").replace("\r", "\n")


@dataclass(frozen=True)
class _Leaf:
    """A non-multipart part with its headers read once (the stdlib re-parses them per call)."""

    part: Message
    content_type: str
    disposition: str
    filename: str | None

    @property
    def is_text_rendering(self) -> bool:
        """A plain or HTML rendering of the message's text, rather than a file."""
        return (
            self.content_type in INLINE_TEXT_TYPES
            and self.filename is None
            and self.disposition != "attachment"
        )


def read_body(message: EmailMessage) -> MessageBody:
    """The message's text (plain preferred, else HTML rendered), its HTML and its file parts.

    The first plain and the first HTML rendering outside attached emails are the body; every
    other part that is not one more rendering of the text is a file.
    """
    leaves = [_leaf(part) for part in _leaf_parts(message)]
    plain = next(
        (leaf for leaf in leaves if leaf.is_text_rendering and leaf.content_type == "text/plain"), None
    )
    html_leaf = next(
        (leaf for leaf in leaves if leaf.is_text_rendering and leaf.content_type == "text/html"), None
    )
    if plain is None and html_leaf is None and len(leaves) == 1 and leaves[0].part is message:
        # A multipart whose boundary never appears parses as one text payload: that text is
        # the message, not something to lose.
        only = leaves[0]
        if only.content_type.startswith(("text/", "multipart/")) and only.disposition != "attachment":
            plain = only
    html = part_text(html_leaf.part) if html_leaf is not None else None
    if plain is not None:
        text = part_text(plain.part).strip()
    elif html is not None:
        text = html_to_text(html)
    else:
        text = ""
    files = [
        _attachment(leaf)
        for leaf in leaves
        if leaf is not plain
        and leaf is not html_leaf
        and not leaf.is_text_rendering
        and not (leaf.part is message and leaf.content_type.startswith("multipart/"))
    ]
    return MessageBody(text=text, html=html, attachments=tuple(files))


def _leaf(part: Message) -> _Leaf:
    try:
        disposition = (part.get_content_disposition() or "").lower()
    except Exception:  # noqa: BLE001 - malformed Content-Disposition parameters
        disposition = ""
    return _Leaf(part, part.get_content_type(), disposition, _filename(part))


def _attachment(leaf: _Leaf) -> RawAttachment:
    return RawAttachment(
        filename=leaf.filename,
        declared_type=leaf.content_type,
        data=_part_bytes(leaf.part),
        inline=leaf.disposition == "inline" or bool(leaf.part.get("Content-ID")),
        content_id=_content_id(leaf.part),
    )


def _leaf_parts(message: Message) -> list[Message]:
    """Every non-multipart part, depth first; an attached email counts as one file."""
    if not message.is_multipart() or message.get_content_type() == "message/rfc822":
        return [message]
    leaves: list[Message] = []
    payload = message.get_payload()
    for sub in payload if isinstance(payload, list) else []:
        if isinstance(sub, Message):
            leaves.extend(_leaf_parts(sub))
    return leaves


def _decoded_payload(part: Message) -> bytes | None:
    """The part's bytes with the transfer encoding undone, also for truncated base64.

    The stdlib hands back the still-encoded text when base64 ends with a lone character, so
    base64 is decoded here, dropping an incomplete final group.
    """
    encoding = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    try:
        raw = part.get_payload()
        if encoding == "base64" and isinstance(raw, str):
            return _lenient_base64(raw)
        payload = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001 - broken encodings and charsets fail in many shapes
        payload = _undecoded_bytes(part)
    return payload if isinstance(payload, bytes) else None


def _undecoded_bytes(part: Message) -> bytes | None:
    """The payload as the parser stored it (8-bit bytes are kept as surrogate escapes)."""
    raw = getattr(part, "_payload", None)  # the stdlib accessors would decode again and fail again
    return raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else None


def _lenient_base64(text: str) -> bytes:
    symbols = NOT_BASE64.sub("", text)
    remainder = len(symbols) % 4
    if remainder == 1:
        symbols = symbols[:-1]  # one lone character carries no whole byte
    elif remainder:
        symbols += "=" * (4 - remainder)
    try:
        return base64.b64decode(symbols)
    except binascii.Error:
        return b""


def _part_bytes(part: Message) -> bytes:
    if part.get_content_type() == "message/rfc822":
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        return inner.as_bytes() if isinstance(inner, Message) else b""
    return _decoded_payload(part) or b""


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:  # noqa: BLE001 - malformed RFC 2231 parameters
        name = None
    return str(name) if name else None


def _content_id(part: Message) -> str | None:
    value = str(part.get("Content-ID", "")).strip()
    return value.strip("<>") or None


class _TextExtractor(HTMLParser):
    SKIPPED = frozenset({"script", "style", "head", "title"})
    BREAKS = frozenset(
        {"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "hr", "table"}
    )

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
        elif tag in self.BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """A readable plain-text rendering of HTML: scripts and styles dropped, blocks as lines."""
    extractor = _TextExtractor()
    try:
        extractor.feed(html)
        extractor.close()
    except Exception:  # noqa: BLE001 - html.parser is lenient, but never let markup crash intake
        pass
    lines = (" ".join(line.split()) for line in "".join(extractor.parts).splitlines())
    return "\n".join(line for line in lines if line).strip()
