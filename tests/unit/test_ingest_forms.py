"""Pure rules of ingest's portal and chat channels: ids, limits, transcripts, events, rate limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from ticketstream.contracts.events import AttachmentRef, ChatAuthorRole, ChatLine, InboundChannel
from ticketstream.contracts.models import Csat, Person, Priority, TicketType
from ticketstream_ingest import forms
from ticketstream_ingest.models_forms import ChatRequestBody, CsatBody, PortalRequestBody
from ticketstream_ingest.rate_limits import (
    RateScope,
    WindowCounts,
    address_rate_key,
    client_address,
    rate_decision,
    window_end,
    window_index,
)

NOW = datetime(2026, 12, 1, 10, 15, tzinfo=UTC)
REQUEST_ID = "0b5e3c2a-8f1d-4c3e-9a7b-1d2e3f4a5b6c"


def line(role: str, text: str, *, at: datetime = NOW, name: str | None = None) -> ChatLine:
    return ChatLine(author_role=ChatAuthorRole(role), author_name=name, text=text, sent_at=at)


# --- ids ---------------------------------------------------------------------------------------


def test_request_message_ids_are_recognised_only_for_our_domain() -> None:
    portal = forms.request_message_id(InboundChannel.PORTAL, REQUEST_ID, domain="help.example.com")
    chat = forms.request_message_id(InboundChannel.CHAT, REQUEST_ID, domain="help.example.com")

    assert portal == f"<portal-{REQUEST_ID}@help.example.com>"
    assert chat == f"<chat-{REQUEST_ID}@help.example.com>"
    assert forms.is_request_message_id(portal, domain="help.example.com")
    assert forms.is_request_message_id(chat, domain="help.example.com")
    assert not forms.is_request_message_id(portal, domain="other.example.com")
    assert not forms.is_request_message_id("<CAF123@mail.gmail.com>", domain="help.example.com")
    assert not forms.is_request_message_id(
        f"<portal-{REQUEST_ID}@help.example.com", domain="help.example.com"
    )
    assert not forms.is_request_message_id(None, domain="help.example.com")


def test_id_domain_is_the_support_mailbox_domain() -> None:
    assert forms.id_domain("Support@Help.Example.com") == "help.example.com"
    assert forms.id_domain("support") == forms.DEFAULT_ID_DOMAIN


# --- attachments limits ------------------------------------------------------------------------

LIMITS = forms.AttachmentLimits(max_file_bytes=100, max_total_bytes=150, max_files=2)


def test_attachment_sizes_within_limits_pass() -> None:
    forms.check_attachment_sizes([("a.pdf", 100), ("b.png", 50)], LIMITS)
    forms.check_attachment_sizes([], LIMITS)


@pytest.mark.parametrize(
    ("sizes", "error", "message"),
    [
        ([("a", 1), ("b", 1), ("c", 1)], forms.FormError, "at most 2 attachments per request (got 3)"),
        (
            [("big.pdf", 101)],
            forms.AttachmentTooLargeError,
            "attachment 'big.pdf' is 101 bytes; the limit per file is 100 bytes",
        ),
        (
            [("a.pdf", 100), ("b.pdf", 51)],
            forms.AttachmentTooLargeError,
            "the attachments add up to 151 bytes; the limit per request is 150 bytes",
        ),
    ],
)
def test_attachment_limits_refuse_with_a_reason(
    sizes: list[tuple[str, int]], error: type[forms.FormError], message: str
) -> None:
    with pytest.raises(error) as raised:
        forms.check_attachment_sizes(sizes, LIMITS)
    assert str(raised.value) == message
    assert raised.value.field == "attachments"
    assert type(raised.value) is error


# --- chat transcripts --------------------------------------------------------------------------


def test_a_valid_transcript_passes_even_with_a_widget_clock_slightly_ahead() -> None:
    forms.check_transcript(
        (
            line("bot", "Hi! How can I help?"),
            line("customer", "My card was declined", at=NOW + timedelta(minutes=1)),
        ),
        now=NOW,
    )


@pytest.mark.parametrize(
    ("lines", "field", "message"),
    [
        ((), "transcript", "the transcript has no lines"),
        (
            (line("agent", "Hello"), line("bot", "Anything else?")),
            "transcript",
            "the transcript has no line written by the customer",
        ),
        ((line("customer", "   "),), "transcript.0.text", "line 0 of the transcript is empty"),
        (
            (line("customer", "hi"), line("agent", "x" * (forms.MAX_CHAT_LINE_CHARS + 1))),
            "transcript.1.text",
            f"line 1 of the transcript is longer than {forms.MAX_CHAT_LINE_CHARS} characters",
        ),
        (
            (line("customer", "from tomorrow", at=NOW + timedelta(hours=1)),),
            "transcript.0.sent_at",
            "line 0 of the transcript was sent in the future (2026-12-01T11:15:00+00:00)",
        ),
        (
            tuple(line("customer", "again") for _ in range(forms.MAX_CHAT_LINES + 1)),
            "transcript",
            "the transcript has 501 lines; at most 500 are accepted",
        ),
    ],
)
def test_unusable_transcripts_are_refused_with_the_line_at_fault(
    lines: tuple[ChatLine, ...], field: str, message: str
) -> None:
    with pytest.raises(forms.FormError) as raised:
        forms.check_transcript(lines, now=NOW)
    assert str(raised.value) == message
    assert raised.value.field == field


def test_chat_subject_is_given_or_the_first_customer_line_shortened() -> None:
    lines = (
        line("bot", "Welcome to support"),
        line(
            "customer",
            "My invoice\nfor November shows the wrong VAT number and I need it fixed before Friday",
        ),
        line("customer", "second"),
    )
    assert forms.chat_subject("  Billing  question ", lines) == "Billing question"
    derived = forms.chat_subject(None, lines)
    assert derived == "My invoice for November shows the wrong VAT number and I need it fixed before…"
    assert len(derived) <= forms.DERIVED_SUBJECT_CHARS
    assert forms.chat_subject("", (line("customer", "Short one"),)) == "Short one"


def test_shortened_cuts_at_a_word_when_one_is_near() -> None:
    assert forms.shortened("abc", 5) == "abc"
    assert forms.shortened("hello world again", 12) == "hello world…"
    assert forms.shortened("x" * 20, 10) == "x" * 9 + "…"


def test_chat_event_carries_the_transcript_and_a_plain_text_rendering() -> None:
    lines = (
        line("bot", "Hi, I am the bot", at=NOW - timedelta(minutes=2)),
        line("customer", "  I cannot log in  ", at=NOW - timedelta(minutes=1), name="Robin"),
    )
    submission = forms.ChatSubmission(
        sender=Person(email="robin@gmail.com", name="Robin"), subject=None, transcript=lines
    )
    message_id = forms.request_message_id(InboundChannel.CHAT, REQUEST_ID, domain="ticketstream.local")

    event = forms.chat_event(submission, request_id=REQUEST_ID, message_id=message_id, now=NOW)

    assert event.channel is InboundChannel.CHAT
    assert event.inbound_id == REQUEST_ID
    assert event.message_id == event.email_thread_id == message_id
    assert event.subject == "I cannot log in"
    assert event.transcript == list(lines)
    assert event.text_body == (
        "Bot (bot), 2026-12-01 10:13:00 UTC:\nHi, I am the bot\n\n"
        "Robin (customer), 2026-12-01 10:14:00 UTC:\nI cannot log in"
    )
    assert (event.sender_domain, event.sender_free_mail) == ("gmail.com", True)
    assert event.received_at == NOW


def test_portal_event_carries_the_customer_choices_and_files() -> None:
    submission = forms.PortalSubmission(
        sender=Person(email="ana@acme.example", name="Ana"),
        subject="Export fails",
        description="The CSV export stops at 10%.",
        priority=Priority.HIGH,
        ticket_type=TicketType.BUG,
        category="Reports",
    )
    files = [AttachmentRef(filename="log.txt", content_type="text/plain", size=12, storage_id="s1")]

    event = forms.portal_event(
        submission, request_id=REQUEST_ID, message_id=f"<portal-{REQUEST_ID}@x>", attachments=files, now=NOW
    )

    assert event.channel is InboundChannel.PORTAL
    assert (event.priority, event.ticket_type, event.category) == (Priority.HIGH, TicketType.BUG, "Reports")
    assert event.text_body == "The CSV export stops at 10%."
    assert event.attachments == files
    assert event.email_thread_id == f"<portal-{REQUEST_ID}@x>"
    assert (event.sender_domain, event.sender_free_mail) == ("acme.example", False)


def test_csat_answer_drops_a_blank_comment() -> None:
    assert forms.csat_answer(4, "  ") == Csat(score=4, comment=None)
    assert forms.csat_answer(2, " slow ") == Csat(score=2, comment="slow")


def test_without_controls_keeps_tabs_and_line_breaks() -> None:
    assert forms.without_controls("a\x00b\r\nc\rd\te\x1b[31m\x85") == "ab\nc\nd\te[31m"


# --- request bodies ----------------------------------------------------------------------------


def test_portal_body_normalises_its_fields() -> None:
    body = PortalRequestBody.model_validate(
        {
            "email": "Ana@Example.COM",
            "name": "  Ana \x07Lima ",
            "subject": " Login\n  fails ",
            "description": "  It\r\nbreaks\x00  ",
            "priority": "high",
            "type": "customer_request",
            "category": "",
        }
    )
    assert body.email == "ana@example.com"
    assert body.name == "Ana Lima"
    assert body.subject == "Login fails"
    assert body.description == "It\nbreaks"
    assert (body.priority, body.ticket_type, body.category) == (
        Priority.HIGH,
        TicketType.CUSTOMER_REQUEST,
        None,
    )


def test_portal_body_reports_every_problem() -> None:
    with pytest.raises(ValidationError) as raised:
        PortalRequestBody.model_validate(
            {
                "email": "not-an-address",
                "subject": " ",
                "description": "x" * (forms.MAX_DESCRIPTION_CHARS + 1),
                "priority": "whenever",
                "category": "c" * (forms.MAX_CATEGORY_CHARS + 1),
                "descripton": "typo",
            }
        )
    problems = {item["loc"][0]: item["type"] for item in raised.value.errors()}
    assert problems == {
        "email": "value_error",
        "subject": "value_error",
        "description": "string_too_long",
        "priority": "enum",
        "category": "string_too_long",
        "descripton": "extra_forbidden",
    }


def test_chat_body_requires_aware_times_and_known_roles() -> None:
    with pytest.raises(ValidationError) as raised:
        ChatRequestBody.model_validate(
            {
                "email": "robin@example.com",
                "transcript": [
                    {"author_role": "customer", "text": "hi", "sent_at": "2026-12-01T10:00:00"},
                    {"author_role": "robot", "text": "beep", "sent_at": "2026-12-01T10:00:00Z"},
                ],
            }
        )
    problems = {tuple(item["loc"]): item["type"] for item in raised.value.errors()}
    assert problems == {
        ("transcript", 0, "sent_at"): "timezone_aware",
        ("transcript", 1, "author_role"): "enum",
    }
    body = ChatRequestBody.model_validate(
        {
            "email": "robin@example.com",
            "transcript": [{"author_role": "Customer", "text": " hi ", "sent_at": "2026-12-01T10:00:00Z"}],
        }
    )
    assert body.submission().transcript[0] == line("customer", "hi", at=datetime(2026, 12, 1, 10, tzinfo=UTC))


@pytest.mark.parametrize("score", [0, 6, "five", None])
def test_csat_body_refuses_scores_outside_one_to_five(score: object) -> None:
    with pytest.raises(ValidationError):
        CsatBody.model_validate({"score": score})


def test_csat_body_bounds_the_comment() -> None:
    assert CsatBody.model_validate({"score": "5", "comment": ""}).comment is None
    with pytest.raises(ValidationError):
        CsatBody.model_validate({"score": 5, "comment": "x" * (forms.MAX_CSAT_COMMENT_CHARS + 1)})


# --- rate limits -------------------------------------------------------------------------------

HOUR = timedelta(hours=1)
WINDOW_START = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def test_windows_are_fixed_hours_from_the_epoch() -> None:
    index = window_index(WINDOW_START + timedelta(minutes=59))
    assert index == window_index(WINDOW_START)
    assert window_index(WINDOW_START + HOUR) == index + 1
    assert window_end(index) == WINDOW_START + HOUR


def test_requests_within_the_limit_are_allowed() -> None:
    counts = {RateScope.SENDER: WindowCounts(previous=0, current=3)}
    assert rate_decision(counts, {RateScope.SENDER: 3}, now=WINDOW_START).allowed


def test_over_the_limit_in_this_window_waits_into_the_next() -> None:
    # 4th request at 10:15 with nothing before: it fits again once this window's weight fades
    # enough; with 3 kept hits and a limit of 3, one more fits when 3 * (1 - y) + 1 <= 3.
    counts = {RateScope.SENDER: WindowCounts(previous=0, current=4)}
    decision = rate_decision(counts, {RateScope.SENDER: 3}, now=WINDOW_START + timedelta(minutes=15))
    assert not decision.allowed
    assert decision.scope is RateScope.SENDER
    assert decision.retry_after_seconds == 45 * 60 + 20 * 60
    assert decision.reason == "too many requests from this email address: at most 3 per hour; try again later"


def test_the_previous_window_fades_out_linearly() -> None:
    # 10 last hour, none yet this hour, limit 10: at 10:06 the estimate is 10 * 0.9 + 1 = 10.
    counts = {RateScope.ADDRESS: WindowCounts(previous=10, current=1)}
    limits = {RateScope.ADDRESS: 10}
    assert not rate_decision(counts, limits, now=WINDOW_START + timedelta(minutes=5)).allowed
    refused = rate_decision(counts, limits, now=WINDOW_START + timedelta(minutes=3))
    # One more fits when 10 * (1 - x) + 0 + 1 <= 10, i.e. at x = 0.1 (10:06): 3 minutes away.
    assert refused.retry_after_seconds == 3 * 60
    assert (
        refused.reason == "too many requests from this network address: at most 10 per hour; try again later"
    )
    assert rate_decision(counts, limits, now=WINDOW_START + timedelta(minutes=6)).allowed


def test_the_longest_refusal_is_reported_and_a_zero_limit_is_off() -> None:
    counts = {
        RateScope.SENDER: WindowCounts(previous=0, current=2),
        RateScope.ADDRESS: WindowCounts(previous=10, current=1),
    }
    limits = {RateScope.SENDER: 1, RateScope.ADDRESS: 10}
    decision = rate_decision(counts, limits, now=WINDOW_START + timedelta(minutes=3))
    # The estimate assumes last window's requests were spread over it: with a limit of 1, the
    # kept hit weighs until the end of the next window.
    assert decision.scope is RateScope.SENDER
    assert decision.retry_after_seconds == 57 * 60 + 60 * 60
    assert rate_decision(counts, {RateScope.SENDER: 0, RateScope.ADDRESS: 0}, now=WINDOW_START).allowed


def test_retry_after_is_at_least_a_second() -> None:
    counts = {RateScope.SENDER: WindowCounts(previous=10, current=1)}
    moment = WINDOW_START + timedelta(minutes=6) - timedelta(milliseconds=100)
    decision = rate_decision(counts, {RateScope.SENDER: 10}, now=moment)
    assert not decision.allowed
    assert decision.retry_after_seconds == 1


@pytest.mark.parametrize(
    ("peer", "forwarded", "hops", "expected"),
    [
        ("10.0.0.5", None, 0, "10.0.0.5"),
        ("10.0.0.5", "203.0.113.7", 0, "10.0.0.5"),
        ("10.0.0.5", "203.0.113.7", 1, "203.0.113.7"),
        ("10.0.0.5", "198.51.100.1, 203.0.113.7", 1, "203.0.113.7"),
        ("10.0.0.5", "spoofed, 203.0.113.7, 10.0.0.9", 2, "203.0.113.7"),
        ("10.0.0.5", "203.0.113.7", 3, "203.0.113.7"),
        ("10.0.0.5", "not-an-ip", 1, "10.0.0.5"),
        (None, None, 0, "unknown"),
    ],
)
def test_client_address_believes_only_trusted_proxies(
    peer: str | None, forwarded: str | None, hops: int, expected: str
) -> None:
    assert client_address(peer, forwarded, trusted_hops=hops) == expected


def test_ipv6_clients_are_counted_per_64() -> None:
    assert address_rate_key("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert address_rate_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert address_rate_key("::ffff:203.0.113.7") == "203.0.113.7"
    assert address_rate_key("203.0.113.7") == "203.0.113.7"
    assert address_rate_key("testclient") == "testclient"
