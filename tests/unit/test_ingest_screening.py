"""Unit tests of ingest's pure decisions: noise headers, quarantine rules, webhook signatures."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ticketstream_ingest.domain import ParsedEmail, parse_email
from ticketstream_ingest.noise import auto_submitted_reason
from ticketstream_ingest.sanitise import sanitise_html
from ticketstream_ingest.screening import HoldReason, screen_rate, screen_sender
from ticketstream_ingest.signatures import signature_problem, webhook_signature

SUPPORT = "support@help.example.test"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def parsed_from(sender: str) -> ParsedEmail:
    return parse_email(f"From: {sender}\r\nSubject: hi\r\n\r\nbody".encode(), support_address=SUPPORT)


@pytest.mark.parametrize(
    ("headers", "sender", "subject", "expected"),
    [
        ({}, "ana@example.com", "Printer", None),
        ({"Auto-Submitted": "no"}, "ana@example.com", "Printer", None),
        ({"Auto-Submitted": "auto-replied"}, "ana@example.com", "x", "Auto-Submitted: auto-replied"),
        (
            {"Auto-Submitted": "auto-generated; owner-email=x"},
            "a@b.c",
            "x",
            "Auto-Submitted: auto-generated; owner-email=x",
        ),
        ({"Precedence": "Bulk"}, "a@b.c", "x", "Precedence: bulk"),
        ({"Precedence": "first-class"}, "a@b.c", "x", None),
        ({"X-Auto-Response-Suppress": "All"}, "a@b.c", "x", "X-Auto-Response-Suppress: All"),
        ({"X-Auto-Response-Suppress": "DR, RN, NRN"}, "a@b.c", "x", None),
        (
            {"List-Id": "Users <users.lists.example.org>"},
            "a@b.c",
            "x",
            "List-Id: Users <users.lists.example.org>",
        ),
        ({"X-Autoreply": "yes"}, "a@b.c", "x", "X-Autoreply: yes"),
        ({}, "MAILER-DAEMON@mx.example.net", "failure", "sent by MAILER-DAEMON@mx.example.net"),
        (
            {},
            "ana@example.com",
            "Out of Office: back Monday",
            "subject says it is an automatic reply: Out of Office: back Monday",
        ),
        ({}, "ana@example.com", "Re: out of office hours support", None),
    ],
)
def test_auto_submitted_reason_names_the_deciding_header(headers, sender, subject, expected):
    lookup = {name.lower(): value for name, value in headers.items()}
    assert (
        auto_submitted_reason(lambda name: lookup.get(name.lower(), ""), sender=sender, subject=subject)
        == expected
    )


@pytest.mark.parametrize(
    ("sender", "reason"),
    [
        ("support@help.example.test", HoldReason.OWN_ADDRESS),
        ("Support+TKT-0001@help.example.test", HoldReason.OWN_ADDRESS),
        ("helpdesk@help.example.test", HoldReason.OWN_ADDRESS),
        ("bad@spam.example", HoldReason.BLOCKED_SENDER),
        ("anyone@blocked.example", HoldReason.BLOCKED_SENDER),
        ("someone@sub.blocked.example", None),
        ("ana@example.com", None),
    ],
)
def test_screen_sender(sender, reason):
    hold = screen_sender(
        parsed_from(sender),
        support_address=SUPPORT,
        own_addresses=["HelpDesk@help.example.test"],
        blocked=["bad@spam.example", "@blocked.example", " "],
    )
    assert (hold.reason if hold else None) is reason


def test_screen_rate_holds_only_what_passes_the_limit():
    assert screen_rate(sender="a@b.c", count_this_hour=10, limit_per_hour=10) is None
    hold = screen_rate(sender="a@b.c", count_this_hour=11, limit_per_hour=10)
    assert hold is not None and hold.reason is HoldReason.LOOP
    assert hold.detail.startswith("a@b.c sent 11 messages within the hour (limit 10)")
    assert screen_rate(sender="a@b.c", count_this_hour=10_000, limit_per_hour=0) is None


def test_webhook_signature_round_trip_and_every_failure():
    body = b"From: a@b.c\r\n\r\nhi"
    stamp = str(int(NOW.timestamp()))
    good = webhook_signature("k" * 16, timestamp=stamp, body=body)

    def problem(**overrides: object) -> str | None:
        values: dict = {
            "timestamp": stamp,
            "signature": good,
            "body": body,
            "now": NOW,
            "tolerance_seconds": 300,
        }
        values.update(overrides)
        return signature_problem("k" * 16, **values)

    assert good.startswith("sha256=") and len(good) == 7 + 64
    assert problem() is None
    assert problem(signature=f"sha256=00, {good}") is None  # rotated secrets: any listed one may match
    assert (
        problem(signature=None)
        == "the request has no X-Ticketstream-Timestamp and X-Ticketstream-Signature headers"
    )
    assert problem(timestamp="yesterday") == "X-Ticketstream-Timestamp is not a Unix time in seconds"
    assert problem(body=body + b"!") == "the signature does not match the body"
    assert (
        problem(now=NOW.replace(hour=13))
        == "the signature timestamp is 3600 s away from now (tolerance 300 s)"
    )


@pytest.mark.parametrize("stamp", ["²", "9" * 400, "1" * 5000, "-5", "12.5"])
def test_webhook_timestamps_that_are_not_plain_seconds_are_refused_not_crashed(stamp):
    problem = signature_problem(
        "k" * 16, timestamp=stamp, signature="sha256=00", body=b"", now=NOW, tolerance_seconds=300
    )
    assert problem == "X-Ticketstream-Timestamp is not a Unix time in seconds"


def test_sanitised_html_keeps_structure_and_own_images_only():
    html = (
        '<p style="x" onclick="steal()">Hi <b>there</b><script>alert(1)</script>'
        '<img src="https://tracker.example/p.gif"><img src="cid:logo@x" alt="logo">'
        '<a href="javascript:alert(1)">bad</a><a href="https://docs.example">docs</a>'
        "<iframe src=x></iframe><form><input name=a></form></p>"
    )
    assert sanitise_html(html) == (
        '<p>Hi <b>there</b><img><img src="cid:logo@x" alt="logo">'
        '<a rel="noopener noreferrer nofollow">bad</a>'
        '<a href="https://docs.example" rel="noopener noreferrer nofollow">docs</a></p><p></p>'
    )


def test_a_huge_message_makes_a_bounded_event_that_says_it_was_cut():
    from email.message import EmailMessage

    from ticketstream.contracts import encode_event
    from ticketstream.contracts.events import InboundChannel
    from ticketstream_ingest.domain import MAX_EVENT_TEXT_BYTES, message_event

    message = EmailMessage()
    message["From"] = "ana@example.com"
    message["Subject"] = "logs"
    message["References"] = " ".join(f"<r{n}@example.com>" for n in range(2000))
    message.set_content("é" * 300_000)
    parsed = parse_email(message.as_bytes(), support_address=SUPPORT)
    event = message_event(
        parsed, inbound_id="i", channel=InboundChannel.SMTP, now=NOW, html_body=None, attachments=[]
    )
    small = message_event(
        parsed_from("ana@example.com"),
        inbound_id="j",
        channel=InboundChannel.SMTP,
        now=NOW,
        html_body=None,
        attachments=[],
    )
    assert event.truncated is True and small.truncated is False
    assert len(event.text_body.encode()) <= MAX_EVENT_TEXT_BYTES and event.text_body == "é" * (
        MAX_EVENT_TEXT_BYTES // 2
    )
    assert event.references[0] == "<r0@example.com>" and event.references[-1] == "<r1999@example.com>"
    assert len(event.references) == 50
    assert event.email_thread_id == "<r0@example.com>"
    assert len(encode_event(event, service="ingest", key="k").value) < 400_000


def test_authentication_verdicts_come_only_from_the_trusted_server_when_it_is_named():
    raw = (
        b"From: ana@example.com\r\nSubject: hi\r\n"
        b"Authentication-Results: mx.help.example.test; spf=fail smtp.mailfrom=example.com; dmarc=fail\r\n"
        b"Authentication-Results: forged.example; spf=pass; dkim=pass; dmarc=pass\r\n\r\nbody"
    )
    topmost = parse_email(raw, support_address=SUPPORT).authentication
    trusted = parse_email(
        raw, support_address=SUPPORT, trusted_authserv_id="MX.help.example.test"
    ).authentication
    unknown = parse_email(raw, support_address=SUPPORT, trusted_authserv_id="mx.other.example").authentication
    assert topmost is not None and (topmost.spf, topmost.dmarc) == ("fail", "fail")
    assert trusted is not None and (trusted.spf, trusted.dkim, trusted.dmarc) == ("fail", None, "fail")
    assert unknown is None
