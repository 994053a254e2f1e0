"""Pure rules of notify's storm protection: the mail budget, digests, suppression, the stream."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ticketstream.contracts.events import InboundBounceReceived
from ticketstream_notify import digests, live, suppression
from ticketstream_notify.digests import BudgetState, MailBudget
from ticketstream_notify.domain import OutgoingEmail
from ticketstream_notify.suppression import SuppressionSource

NOW = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
BUDGET = MailBudget(limit=3, window=timedelta(minutes=10))


def mail(
    kind: str, *, ref: str = "TKT-0001", subject: str = "Assigned to you", text: str = ""
) -> OutgoingEmail:
    return OutgoingEmail(
        to="dana@example.com",
        subject=subject,
        text=text or "Hello Dana,\n\nTicket TKT-0001 was assigned to you by Mia.\n",
        message_id="<m@x>",
        in_reply_to=None,
        references=(),
        reply_to="support@ticketstream.local",
        ticket_id="t1",
        ref=ref,
        kind=kind,
    )


def test_the_conversation_is_never_digested_but_any_other_kind_is():
    assert not digests.takes_part(mail("reply"))
    assert not digests.takes_part(mail("acknowledgement"))
    assert not digests.takes_part(mail(digests.DIGEST_KIND))
    assert not digests.takes_part(mail("status.resolved"))
    assert digests.takes_part(mail("waiting.checkin"))
    assert digests.takes_part(mail("a.kind.added.later"))


def test_a_window_admits_its_limit_and_a_new_window_starts_fresh():
    ends = NOW + timedelta(minutes=5)
    assert digests.may_send(None, BUDGET, now=NOW)
    assert digests.may_send(BudgetState(window_ends_at=ends, sent=2), BUDGET, now=NOW)
    assert not digests.may_send(BudgetState(window_ends_at=ends, sent=3), BUDGET, now=NOW)
    assert digests.may_send(BudgetState(window_ends_at=NOW, sent=3), BUDGET, now=NOW)
    assert not MailBudget(limit=0, window=timedelta(minutes=1)).enabled


def test_a_digest_lists_every_item_oldest_first_and_names_its_tickets():
    items = [
        digests.item_of(
            mail("assigned", ref=f"TKT-000{n}", subject=f"Subject {n}"), queued_at=NOW - timedelta(minutes=n)
        )
        for n in range(1, 6)
    ]
    sent = digests.digest_email(
        "dana@example.com", items, mail_id="digest:abc", support_address="support@ticketstream.local"
    )
    listed = [line for line in sent.text.splitlines() if line.startswith("- ")]
    assert [line.rsplit(" ", 1)[-1] for line in listed] == ["5", "4", "3", "2", "1"]
    assert sent.subject == "5 updates: TKT-0001, TKT-0002, TKT-0003 and 2 more"
    assert sent.kind == digests.DIGEST_KIND and sent.message_id == "<digest.abc@ticketstream.local>"
    assert "Ticket TKT-0001 was assigned to you by Mia." in sent.text


def test_a_digest_about_one_ticket_is_threaded_to_it():
    items = [digests.item_of(mail("waiting.checkin", ref="TKT-0042"), queued_at=NOW) for _ in range(3)]
    sent = digests.digest_email(
        "kim@example.com", items, mail_id="digest:def", support_address="support@ticketstream.local"
    )
    assert (sent.subject, sent.ref, sent.ticket_id) == ("[TKT-0042] 3 updates", "TKT-0042", "t1")
    assert sent.reply_to == "support+TKT-0042@ticketstream.local"


def test_a_staff_digest_about_one_ticket_is_not_threaded_to_it():
    items = [digests.item_of(mail("ticket.assigned", ref="TKT-0042"), queued_at=NOW) for _ in range(3)]
    sent = digests.digest_email(
        "dana@example.com",
        items,
        mail_id="digest:staff",
        support_address="support@ticketstream.local",
        audience="staff",
    )
    assert sent.audience == "staff"
    assert sent.reply_to == "support@ticketstream.local"
    assert "[TKT-0042]" not in sent.subject and "TKT-0042" in sent.subject


def test_the_digest_id_depends_only_on_the_set_of_held_mails():
    assert digests.digest_id(["b", "a"]) == digests.digest_id(["a", "b"])
    assert digests.digest_id(["a"]) != digests.digest_id(["a", "b"])


def test_an_excerpt_skips_the_greeting_and_is_shortened():
    assert digests.excerpt("Hello Kim,\n\nYour request is waiting.\n") == "Your request is waiting."
    long = digests.excerpt("x" * 500)
    assert len(long) == digests.EXCERPT_CHARACTERS and long.endswith("…")


def bounce(permanent: bool) -> InboundBounceReceived:
    return InboundBounceReceived(
        inbound_id="in1",
        bounced_address=" Kim@Example.com ",
        original_message_id="<r1@x>",
        permanent=permanent,
        diagnostic="550 5.1.1 user unknown",
        received_at=NOW,
    )


def test_only_a_permanent_bounce_suppresses_and_the_error_says_why():
    assert suppression.from_bounce(bounce(permanent=False), sent_to=["kim@example.com"]) is None
    found = suppression.from_bounce(bounce(permanent=True), sent_to=["KIM@example.com"])
    assert found is not None
    assert (found.address, found.source, found.message_id) == (
        "kim@example.com",
        SuppressionSource.BOUNCE,
        "<r1@x>",
    )
    assert suppression.suppressed_error(found) == "address suppressed after bounce: 550 5.1.1 user unknown"


def test_a_bounce_naming_no_mail_sent_to_that_address_suppresses_nothing():
    # A forged report: the Message-ID is unknown, or belongs to mail sent to somebody else.
    assert suppression.from_bounce(bounce(permanent=True), sent_to=[]) is None
    assert suppression.from_bounce(bounce(permanent=True), sent_to=["dana@example.com"]) is None


def test_only_5xx_rejections_are_permanent():
    assert suppression.is_permanent_rejection(550)
    assert not suppression.is_permanent_rejection(450)
    refused = suppression.from_rejection("A@B.org", code=550, message="no such user", now=NOW)
    assert (refused.address, refused.reason, refused.source) == (
        "a@b.org",
        "550 no such user",
        SuppressionSource.RELAY,
    )


def test_stream_event_ids_round_trip_and_bad_ones_are_ignored():
    at = datetime(2026, 12, 2, 9, 30, 1, 250_000, tzinfo=UTC)
    assert live.resume_point(live.event_id(at, "e1:user:dana")) == (at, "e1:user:dana")
    assert live.resume_point("garbage") is None
    assert live.resume_point("12/") is None
    assert live.resume_point(None) is None
    assert live.resume_point("9" * 40 + "/x") is None


def test_a_frame_is_one_event_and_the_sent_log_forgets_old_entries():
    assert (
        live.frame("unread", {"unread_count": 2}, id="1/a")
        == 'id: 1/a\nevent: unread\ndata: {"unread_count":2}\n\n'
    )
    log = live.SentLog()
    assert log.first_time("a", NOW) and not log.first_time("a", NOW)
    log.forget_before(NOW + timedelta(seconds=1))
    assert log.first_time("a", NOW)
