"""Pure handling of customer files, whatever channel brought them (portal form, email).

Names are reduced to safe basenames, and the content type comes from the bytes themselves: a
sender's declared type is a claim, the magic number at the start of the file is evidence.
No IO here.
"""

from __future__ import annotations

import codecs
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from ticketstream_ingest.mime import RawAttachment

FALLBACK_NAME = "attachment"
MAX_NAME_CHARS = 200
OCTET_STREAM = "application/octet-stream"
TEXT_PLAIN = "text/plain"
SNIFF_BYTES = 4096

# Characters that mean something to a file system or a shell on some platform.
_RESERVED_IN_NAMES = frozenset('<>:"/\\|?*')

# (offset, magic bytes, content type), most specific first.
_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"%PDF-", "application/pdf"),
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (0, b"PK\x03\x04", "application/zip"),
    (0, b"PK\x05\x06", "application/zip"),
    (0, b"PK\x07\x08", "application/zip"),
    (0, b"\x1f\x8b", "application/gzip"),
    (0, b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (0, b"Rar!\x1a\x07", "application/vnd.rar"),
    (0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-ole-storage"),
    (0, b"{\\rtf", "application/rtf"),
    (0, b"%!PS", "application/postscript"),
    (0, b"II*\x00", "image/tiff"),
    (0, b"MM\x00*", "image/tiff"),
    (0, b"\x00\x00\x01\x00", "image/vnd.microsoft.icon"),
    (0, b"ID3", "audio/mpeg"),
    (0, b"OggS", "audio/ogg"),
    (0, b"fLaC", "audio/flac"),
    (0, b"\x1aE\xdf\xa3", "video/webm"),
    (0, b"MZ", "application/x-msdownload"),
    (0, b"\x7fELF", "application/x-executable"),
    (4, b"ftyp", "video/mp4"),
)

# Formats that are a zip or an OLE2 container inside: the bytes cannot tell them apart, so a
# declared type of the same family is believed.
_ZIP_BASED = frozenset(
    {
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation",
        "application/epub+zip",
        "application/java-archive",
    }
)
_OLE_BASED = frozenset(
    {
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/vnd.ms-outlook",
    }
)
_MP4_FAMILY = frozenset({"video/quicktime", "audio/mp4", "image/heic", "image/heif", "image/avif"})
# Text formats a declared type may narrow plain text down to. HTML and SVG are left out on
# purpose: a browser runs their scripts, so bytes that only look like text stay text/plain.
_TEXT_TYPES = frozenset(
    {
        "text/plain",
        "text/csv",
        "text/markdown",
        "text/calendar",
        "text/tab-separated-values",
        "text/x-log",
        "application/json",
        "application/xml",
        "text/xml",
        "application/x-yaml",
        "message/rfc822",
    }
)
_BELIEVED_WHEN_DECLARED = {
    "application/zip": _ZIP_BASED,
    "application/x-ole-storage": _OLE_BASED,
    "video/mp4": _MP4_FAMILY,
}


def safe_filename(name: str | None) -> str:
    """A basename safe to store, show and save: no directories, control or reserved characters.

    `../../etc/passwd.pdf` becomes `passwd.pdf`; a name with nothing left becomes `attachment`.
    Overlong names are shortened, keeping their extension.
    """
    text = unicodedata.normalize("NFC", name or "")
    # Both separators: a name written on Windows arrives as C:\Users\robin\report.pdf.
    basename = text.replace("\\", "/").rsplit("/", 1)[-1]
    kept = "".join(char for char in basename if _allowed_in_name(char))
    # Leading dots make hidden files (and '..'); trailing dots and spaces vanish on Windows.
    cleaned = " ".join(kept.split()).lstrip(". ").rstrip(". ")
    return _shortened(cleaned) if cleaned else FALLBACK_NAME


def _allowed_in_name(char: str) -> bool:
    # Cc: control characters; Cf: invisible format characters such as the right-to-left
    # override that makes "invoice\u202efdp.exe" display as "invoiceexe.pdf".
    return char not in _RESERVED_IN_NAMES and unicodedata.category(char) not in {"Cc", "Cf", "Cs"}


def _shortened(name: str) -> str:
    if len(name) <= MAX_NAME_CHARS:
        return name
    stem, dot, extension = name.rpartition(".")
    if dot and stem and 0 < len(extension) <= 16:
        return f"{stem[: MAX_NAME_CHARS - len(extension) - 1].rstrip()}.{extension}"
    return name[:MAX_NAME_CHARS].rstrip()


def sniff_content_type(data: bytes, *, declared: str | None = None) -> str:
    """The content type the bytes show, believing `declared` only where the bytes cannot decide.

    A declared type is kept for containers the bytes cannot tell apart (a .docx is a zip) and to
    narrow plain text (text/csv); otherwise the magic number wins, and unknown binary data is
    application/octet-stream whatever the sender said.
    """
    claimed = normalise_content_type(declared)
    head = data[:SNIFF_BYTES]
    sniffed = _by_signature(head)
    if sniffed is not None:
        believed = _BELIEVED_WHEN_DECLARED.get(sniffed, frozenset())
        return claimed if claimed in believed else sniffed
    if _is_webp(head):
        return "image/webp"
    if _is_wav(head):
        return "audio/wav"
    if _is_bmp(head):
        return "image/bmp"
    if _looks_like_text(head):
        return claimed if claimed in _TEXT_TYPES else TEXT_PLAIN
    return OCTET_STREAM


def normalise_content_type(value: str | None) -> str:
    """`Text/CSV; charset=utf-8` -> `text/csv`; empty when nothing usable was given."""
    media_type = (value or "").split(";", 1)[0].strip().lower()
    kind, slash, subtype = media_type.partition("/")
    return media_type if slash and kind and subtype and " " not in media_type else ""


def _by_signature(head: bytes) -> str | None:
    for offset, magic, content_type in _SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            return content_type
    return None


def _is_webp(head: bytes) -> bool:
    return head[:4] == b"RIFF" and head[8:12] == b"WEBP"


def _is_wav(head: bytes) -> bool:
    return head[:4] == b"RIFF" and head[8:12] == b"WAVE"


def _is_bmp(head: bytes) -> bool:
    # "BM" alone starts plenty of text files; a bitmap header has four reserved zero bytes next.
    return head[:2] == b"BM" and len(head) >= 14 and head[6:10] == b"\x00\x00\x00\x00"


def _looks_like_text(head: bytes) -> bool:
    """UTF-8 (or UTF-16 with a byte-order mark) without NULs or many control characters."""
    if head[:2] in {b"\xff\xfe", b"\xfe\xff"}:
        return True
    if not head or b"\x00" in head:
        return False
    try:
        # Not final: a multi-byte character may be cut at the end of the sniffed window.
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    controls = sum(1 for char in text if unicodedata.category(char) == "Cc" and char not in "\t\n\r\f")
    return controls <= len(text) // 100


@dataclass(frozen=True)
class AttachmentFile:
    """A file of an inbound email, named and typed safely, with its bytes."""

    filename: str
    content_type: str
    inline: bool
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


def describe_email_attachments(parts: Sequence[RawAttachment]) -> list[AttachmentFile]:
    """The files of an email with safe basenames and the content type their bytes show."""
    return [
        AttachmentFile(
            filename=safe_filename(part.filename),
            content_type=sniff_content_type(part.data, declared=part.declared_type),
            inline=part.inline,
            data=part.data,
        )
        for part in parts
    ]
