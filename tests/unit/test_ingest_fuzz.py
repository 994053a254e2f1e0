"""Fuzzing the email path: any bytes end as a normalised message or a quarantine reason.

Hypothesis builds MIME-shaped input (nested multiparts, reports, odd charsets and transfer
encodings, broken boundaries and headers) as well as raw bytes, and drives everything intake
does without IO: parse, sanitise the HTML, build the event that would be published.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from ticketstream.contracts import encode_event
from ticketstream.contracts.events import InboundChannel
from ticketstream_ingest.domain import InvalidEmailError, bounce_event, message_event, parse_email
from ticketstream_ingest.sanitise import sanitise_html

SUPPORT = "support@ticketstream.local"
NOW = datetime(2026, 12, 1, tzinfo=UTC)

CONTENT_TYPES = st.sampled_from(
    [
        "text/plain",
        "text/html",
        "multipart/alternative",
        "multipart/mixed",
        "multipart/related",
        "multipart/report; report-type=delivery-status",
        "message/delivery-status",
        "message/rfc822",
        "text/rfc822-headers",
        "application/pdf",
        "image/png",
        "",
    ]
)
CHARSETS = st.sampled_from(["utf-8", "iso-8859-1", "windows-1252", "iso-2022-jp", "koi8-r", "x-bogus", ""])
ENCODINGS = st.sampled_from(["7bit", "8bit", "base64", "quoted-printable", "x-uuencode", "binary", ""])
TEXT = st.one_of(
    st.text(max_size=80),
    st.sampled_from(
        [
            "<p onclick=x>hi<script>1</script>",
            "On Tue, 3 Mar 2026, Ana wrote:\n> old",
            "Final-Recipient: rfc822; a@b.c\nAction: failed\nStatus: 5.1.1",
            "Message-ID: <m@x>",
            "=?utf-8?b?SGk=?=",
            "=E9=\n",
            "SGVsbG8=\n",
            "--B",
        ]
    ),
)
HEADER_VALUES = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        ["<a@b>", "Ana <ana@example.com>", "auto-replied", "bulk", "support+TKT-1@ticketstream.local"]
    ),
)


@st.composite
def mime_part(draw: st.DrawFn, depth: int = 0) -> str:
    content_type = draw(CONTENT_TYPES)
    charset = draw(CHARSETS)
    boundary = draw(st.sampled_from(["B", "C", "", '"quoted"']))
    lines = [f"Content-Type: {content_type}; charset={charset}; boundary={boundary}"]
    lines.append(f"Content-Transfer-Encoding: {draw(ENCODINGS)}")
    if draw(st.booleans()):
        lines.append(
            f"Content-Disposition: {draw(st.sampled_from(['attachment', 'inline']))}; filename={draw(TEXT)!r}"
        )
    body: list[str] = []
    if content_type.startswith("multipart/") and depth < 3:
        for _ in range(draw(st.integers(0, 3))):
            body.append(f"--{boundary.strip(chr(34))}")
            body.append(draw(mime_part(depth + 1)))
        if draw(st.booleans()):
            body.append(f"--{boundary.strip(chr(34))}--")
    else:
        body.append(draw(TEXT))
    return "\r\n".join(lines) + "\r\n\r\n" + "\r\n".join(body)


@st.composite
def mime_message(draw: st.DrawFn) -> bytes:
    headers = [f"From: {draw(st.one_of(st.just('Ana <ana@example.com>'), HEADER_VALUES))}"]
    for name in draw(
        st.lists(
            st.sampled_from(
                [
                    "To",
                    "Cc",
                    "Subject",
                    "Message-ID",
                    "In-Reply-To",
                    "References",
                    "Auto-Submitted",
                    "Precedence",
                    "List-Id",
                    "Authentication-Results",
                    "Delivered-To",
                    "MIME-Version",
                ]
            ),
            max_size=8,
        )
    ):
        headers.append(f"{name}: {draw(HEADER_VALUES)}")
    text = "\r\n".join(headers) + "\r\n" + draw(mime_part())
    return text.encode(draw(st.sampled_from(["utf-8", "latin-1"])), "replace")


def event(label: str) -> None:
    """Count outcomes in hypothesis' statistics; plain tests have none to count into."""
    if currently_in_test_context():
        hypothesis_event(label)


def drive_intake(raw: bytes) -> None:
    """What intake does with a message, minus the database: parse, sanitise, build the event."""
    try:
        parsed = parse_email(raw, support_address=SUPPORT)
    except InvalidEmailError as error:
        assert str(error), "a quarantine reason must say something"
        event("quarantined")
        return
    assert parsed.sender.email == parsed.sender.email.lower() and "@" in parsed.sender.email
    assert len(parsed.subject) <= 500
    html = sanitise_html(parsed.html_body) if parsed.html_body is not None else None
    assert html is None or "<script" not in html.lower()
    if parsed.bounce is not None:
        event("bounce")
        bounce = bounce_event(parsed, parsed.bounce, inbound_id="i", now=NOW)
        encode_event(bounce, service="ingest", key="k")
        return
    event("message with attachments" if parsed.attachments else "message")
    received = message_event(
        parsed, inbound_id="i", channel=InboundChannel.SMTP, now=NOW, html_body=html, attachments=[]
    )
    encode_event(received, service="ingest", key=parsed.thread_root)


FUZZ = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(mime_message())
@example(
    b"From: a@b.c\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n"
    b"--B\r\nContent-Type: message/rfc822\r\n\r\n"
)
@example(
    b"From: a@b.c\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=B\r\n\r\n--B\r\n"
)
def test_any_mime_shaped_input_is_parsed_or_given_a_reason(raw: bytes) -> None:
    drive_intake(raw)


@pytest.mark.parametrize(
    "raw",
    [
        # codecs that raise UnicodeError itself rather than UnicodeDecodeError
        b"From: a@b.c\r\nContent-Type: text/plain; charset=punycode\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n\xff\xfe hello",
        b"From: a@b.c\r\nContent-Type: text/plain; charset=idna\r\n\r\n\xc3\xa9t\xc3\xa9",
        # nesting deep enough to exhaust the interpreter's stack inside the stdlib parser
        b"From: a@b.c\r\n"
        + b"".join(
            b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i) for i in range(1500)
        )
        + b"\r\nhi",
        b"From: a@b.c\r\n" + b"Content-Type: message/rfc822\r\n\r\n" * 2500 + b"From: x@y.z\r\n\r\nhi",
    ],
    ids=["punycode", "idna", "deep-multipart", "deep-rfc822"],
)
def test_hostile_shapes_the_stdlib_chokes_on_are_parsed_or_given_a_reason(raw: bytes) -> None:
    drive_intake(raw)


@FUZZ
@given(st.binary(max_size=2048))
def test_any_bytes_are_parsed_or_given_a_reason(raw: bytes) -> None:
    drive_intake(b"From: a@b.c\r\n" + raw)
