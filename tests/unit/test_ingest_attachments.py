"""Attachment names reduced to safe basenames, and content types sniffed from the bytes."""

from __future__ import annotations

import pytest

from ticketstream_ingest.attachments import (
    FALLBACK_NAME,
    MAX_NAME_CHARS,
    normalise_content_type,
    safe_filename,
    sniff_content_type,
)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("/etc/passwd", "passwd"),
        ("C:\\Users\\robin\\Desktop\\report.docx", "report.docx"),
        ("..\\..\\windows\\win.ini", "win.ini"),
        ("invoice\x00.pdf", "invoice.pdf"),
        ("line\r\nbreak.txt", "linebreak.txt"),
        ("tab\there.txt", "tabhere.txt"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),
        ("zero\u200bwidth.png", "zerowidth.png"),
        ('a<b>c:d"e|f?g*h.txt', "abcdefgh.txt"),
        ("  spaced   out  name .pdf ", "spaced out name .pdf"),
        (".htaccess", "htaccess"),
        ("report.pdf...", "report.pdf"),
        ("résumé.pdf", "résumé.pdf"),
        ("e\u0301te\u0301.txt", "été.txt"),
        ("..", FALLBACK_NAME),
        ("../", FALLBACK_NAME),
        ("", FALLBACK_NAME),
        (None, FALLBACK_NAME),
        ("\x01\x02\x03", FALLBACK_NAME),
        ("dir/", FALLBACK_NAME),
    ],
)
def test_safe_filename(given: str | None, expected: str) -> None:
    assert safe_filename(given) == expected


def test_overlong_names_keep_their_extension() -> None:
    name = safe_filename("x" * 500 + ".pdf")
    assert len(name) == MAX_NAME_CHARS
    assert name == "x" * (MAX_NAME_CHARS - 4) + ".pdf"
    assert safe_filename("y" * 500) == "y" * MAX_NAME_CHARS


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 20
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 20
ZIP = b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\x00" * 20
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 20
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 20
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.mark.parametrize(
    ("data", "declared", "expected"),
    [
        (PDF, "application/pdf", "application/pdf"),
        (PDF, None, "application/pdf"),
        # The bytes win over a wrong or hostile declaration.
        (PNG, "application/pdf", "image/png"),
        (PDF, "text/html", "application/pdf"),
        (JPEG, "image/png", "image/jpeg"),
        (b"GIF89a\x01\x00\x01\x00", "image/png", "image/gif"),
        (b"GIF87a\x01\x00\x01\x00", None, "image/gif"),
        (ZIP, "application/zip", "application/zip"),
        (ZIP, "application/pdf", "application/zip"),
        # A .docx is a zip: the declared type of the same family is believed.
        (ZIP, DOCX, DOCX),
        (OLE, "application/msword", "application/msword"),
        (OLE, "image/png", "application/x-ole-storage"),
        (MP4, "video/quicktime", "video/quicktime"),
        (MP4, None, "video/mp4"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", None, "image/webp"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "audio/x-wav", "audio/wav"),
        (b"BM\x36\x00\x0c\x00\x00\x00\x00\x00\x36\x00\x00\x00", None, "image/bmp"),
        (b"MZ\x90\x00\x03\x00\x00\x00", "application/pdf", "application/x-msdownload"),
        (b"\x7fELF\x02\x01\x01", "text/plain", "application/x-executable"),
        (b"\x1f\x8b\x08\x00", None, "application/gzip"),
        (b"Hello, this is plain text.\nSecond line.\n", None, "text/plain"),
        (b"BMW service report, plain text\n", None, "text/plain"),
        ("Grüße aus Köln\n".encode(), "application/octet-stream", "text/plain"),
        (b"name,email\nrobin,robin@example.com\n", "text/csv; charset=utf-8", "text/csv"),
        (b'{"ok": true}', "application/json", "application/json"),
        # HTML and SVG run scripts in a browser: text stays text/plain whatever was declared.
        (b"<html><script>alert(1)</script></html>", "text/html", "text/plain"),
        (b"<svg onload=alert(1)>", "image/svg+xml", "text/plain"),
        (b"\xff\xfeH\x00i\x00", None, "text/plain"),
        (b"\x00\x01\x02\x03binary\x00\xff", "image/png", "application/octet-stream"),
        (b"\xc3\x28 invalid utf-8", "text/plain", "application/octet-stream"),
        (b"", "application/pdf", "application/octet-stream"),
    ],
)
def test_sniff_content_type(data: bytes, declared: str | None, expected: str) -> None:
    assert sniff_content_type(data, declared=declared) == expected


def test_text_cut_inside_a_character_at_the_sniffing_window_is_still_text() -> None:
    data = "é".encode() * 3000  # 6000 bytes: the 4096-byte window ends inside nothing, then cut
    assert sniff_content_type(data[:4095] + data[4095:]) == "text/plain"
    assert sniff_content_type(b"a" + data) == "text/plain"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Text/CSV; charset=utf-8", "text/csv"),
        ("application/pdf", "application/pdf"),
        ("pdf", ""),
        ("", ""),
        (None, ""),
        ("text/", ""),
        ("text/ plain", ""),
    ],
)
def test_normalise_content_type(value: str | None, expected: str) -> None:
    assert normalise_content_type(value) == expected
