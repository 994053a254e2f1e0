"""The IMAP connector's pure parts: leases, where a sync resumes, UID sets, the server's answers
as aioimaplib hands them over, and the mailbox settings."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from ticketstream_ingest.imap_responses import (
    ImapResponseError,
    fetched_bodies,
    fetched_sizes,
    quoted,
    searched_uids,
    uidvalidity_of,
)
from ticketstream_ingest.mailboxes import (
    LeasePlan,
    MailboxCursor,
    MailboxLease,
    RestartReason,
    ResumePoint,
    batches,
    fair_share,
    plan_leases,
    resume_point,
    uid_set,
    uids_to_fetch,
)
from ticketstream_ingest.settings import ImapMailbox, Settings

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(seconds=30)
EARLIER = NOW - timedelta(seconds=1)
MAILBOXES = ["billing", "sales", "support"]


def lease(mailbox: str, owner: str, until: datetime = LATER) -> MailboxLease:
    return MailboxLease(mailbox, owner, until)


# --- leases ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mailboxes", "replicas", "share"), [(3, 1, 3), (3, 2, 2), (3, 3, 1), (3, 5, 1), (0, 2, 0), (4, 0, 4)]
)
def test_fair_share_leaves_no_mailbox_without_an_owner(mailboxes, replicas, share):
    assert fair_share(mailboxes, replicas) == share


def test_a_lone_replica_takes_every_free_mailbox():
    plan = plan_leases(MAILBOXES, {}, replica="r1", live_replicas=1, now=NOW)
    assert plan.keep == ()
    assert plan.release == ()
    assert sorted(plan.candidates) == MAILBOXES
    assert plan.wanted == 3


def test_a_replica_keeps_its_share_and_releases_the_excess_when_another_joins():
    leases = {name: lease(name, "r1") for name in MAILBOXES}
    plan = plan_leases(MAILBOXES, leases, replica="r1", live_replicas=2, now=NOW)
    assert plan == LeasePlan(keep=("billing", "sales"), release=("support",), candidates=(), wanted=0)


def test_the_newcomer_waits_for_released_or_expired_leases_only():
    leases = {
        "billing": lease("billing", "r1"),
        "sales": lease("sales", "r1"),
        "support": lease("support", "r1", until=EARLIER),  # r1 died, or released it
    }
    plan = plan_leases(MAILBOXES, leases, replica="r2", live_replicas=2, now=NOW)
    assert plan == LeasePlan(keep=(), release=(), candidates=("support",), wanted=2)


def test_an_own_lease_that_just_expired_is_still_renewed_first():
    leases = {"billing": lease("billing", "r1", until=EARLIER)}
    plan = plan_leases(["billing"], leases, replica="r1", live_replicas=1, now=NOW)
    assert plan == LeasePlan(keep=("billing",), release=(), candidates=(), wanted=0)


def test_a_lease_on_a_mailbox_no_longer_configured_is_released():
    leases = {"old": lease("old", "r1"), "billing": lease("billing", "r1")}
    plan = plan_leases(["billing"], leases, replica="r1", live_replicas=1, now=NOW)
    assert plan.keep == ("billing",)
    assert plan.release == ("old",)


def test_replicas_try_free_mailboxes_in_different_but_stable_orders():
    names = [f"mailbox-{n}" for n in range(12)]
    orders = {
        replica: plan_leases(names, {}, replica=replica, live_replicas=3, now=NOW).candidates
        for replica in ("r1", "r2", "r3")
    }
    assert len(set(orders.values())) == 3
    assert all(sorted(order) == sorted(names) for order in orders.values())
    assert plan_leases(names, {}, replica="r1", live_replicas=3, now=NOW).candidates == orders["r1"]


# --- where a sync resumes ----------------------------------------------------------------------

SOURCE = "help@example.com@imap.example.com:993/INBOX"


def test_the_first_sync_starts_at_the_first_message():
    assert resume_point(None, source=SOURCE, uidvalidity=7) == ResumePoint(0, RestartReason.FIRST_SYNC)


def test_a_sync_resumes_after_the_cursor_under_the_same_uidvalidity():
    cursor = MailboxCursor("support", SOURCE, uidvalidity=7, last_uid=41)
    assert resume_point(cursor, source=SOURCE, uidvalidity=7) == ResumePoint(41)


def test_a_changed_uidvalidity_reads_the_folder_again():
    cursor = MailboxCursor("support", SOURCE, uidvalidity=7, last_uid=41)
    assert resume_point(cursor, source=SOURCE, uidvalidity=8) == ResumePoint(
        0, RestartReason.UIDVALIDITY_CHANGED
    )


def test_a_cursor_of_another_account_or_folder_is_not_reused():
    cursor = MailboxCursor("support", SOURCE, uidvalidity=7, last_uid=41)
    moved = "help@example.com@imap.example.com:993/Support"
    assert resume_point(cursor, source=moved, uidvalidity=7) == ResumePoint(0, RestartReason.SOURCE_CHANGED)


def test_only_uids_above_the_cursor_are_fetched_oldest_first():
    # `UID 6:*` on a folder whose newest UID is 5 answers 5 (RFC 3501 §6.4.8).
    assert uids_to_fetch([5], after_uid=5) == []
    assert uids_to_fetch([9, 6, 7, 6, 4], after_uid=5) == [6, 7, 9]


def test_uid_sets_collapse_runs():
    assert uid_set([7, 1, 2, 3, 9, 10]) == "1:3,7,9:10"
    assert uid_set([4]) == "4"
    assert batches([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]


# --- the server's answers ----------------------------------------------------------------------

SELECT_ANSWER = [
    b"FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)",
    b"2 EXISTS",
    b"OK [UIDVALIDITY 1796160766] UIDs valid",
    b"OK [UIDNEXT 3] Predicted next UID",
    b"[READ-WRITE] Select completed (0.001 + 0.000 secs).",
]


def test_uidvalidity_is_read_from_the_select_answer():
    assert uidvalidity_of(SELECT_ANSWER) == 1796160766
    with pytest.raises(ImapResponseError, match="UIDVALIDITY"):
        uidvalidity_of([b"2 EXISTS", b"Select completed."])


def test_search_uids_ignore_the_completion_text():
    assert searched_uids([b"3 4 17", b"Search completed (0.001 + 0.000 secs)."]) == [3, 4, 17]
    assert searched_uids([b"SEARCH 8", b"Search completed (1 secs)."]) == [8]
    assert searched_uids([b"Search completed (0.001 secs)."]) == []


def test_sizes_are_read_per_uid_whatever_the_item_order():
    answer = [
        b"1 FETCH (UID 11 RFC822.SIZE 53)",
        b"2 FETCH (RFC822.SIZE 5900 UID 12)",
        b"3 FETCH (FLAGS (\\Seen))",
        b"Fetch completed (0.001 + 0.000 secs).",
    ]
    assert fetched_sizes(answer) == {11: 53, 12: 5900}


def test_bodies_are_read_from_their_literals_with_the_uid_before_or_after():
    first = b"From: a@example.com\r\nSubject: one\r\n\r\nbody )\r\n"
    second = b"From: b@example.com\r\n\r\n2 FETCH (UID 99 BODY[] {3}\r\n"
    answer = [
        b"1 FETCH (UID 11 BODY[] {%d}" % len(first),
        bytearray(first),
        b")",
        b"4 FETCH (FLAGS (\\Seen))",  # an unsolicited flag change in between
        b"2 FETCH (BODY[] {%d}" % len(second),
        bytearray(second),
        b" UID 12)",
        b"Fetch completed (0.001 + 0.000 secs).",
    ]
    assert fetched_bodies(answer) == {11: first, 12: second}


def test_a_body_announced_but_missing_is_an_error_not_an_empty_message():
    with pytest.raises(ImapResponseError, match="did not carry it"):
        fetched_bodies([b"1 FETCH (UID 11 BODY[] {5}", b")", b"Fetch completed."])


def test_quoted_strings_escape_quotes_and_backslashes():
    assert quoted('Support "EU"\\Queue') == '"Support \\"EU\\"\\\\Queue"'


# --- settings ----------------------------------------------------------------------------------

MAILBOX = {
    "name": "support",
    "host": "imap.example.com",
    "username": "help@example.com",
    "password": "s3cret",
}


def test_mailboxes_come_from_one_json_setting_with_safe_defaults(monkeypatch):
    monkeypatch.setenv("TICKETSTREAM_IMAP_MAILBOXES", json.dumps([MAILBOX, {**MAILBOX, "name": "sales"}]))
    monkeypatch.setenv("TICKETSTREAM_IMAP_POLL_SECONDS", "5")
    settings = Settings()
    support, sales = settings.imap_mailboxes
    assert (support.name, support.port, support.folder, support.tls) == ("support", 993, "INBOX", True)
    assert sales.name == "sales"
    assert settings.imap_poll_seconds == 5.0
    assert support.source == "help@example.com@imap.example.com:993/INBOX"
    assert "s3cret" not in repr(settings)
    assert "s3cret" not in str(settings.model_dump())
    assert support.password.get_secret_value() == "s3cret"


def test_the_connector_is_off_by_default():
    assert Settings().imap_mailboxes == []


def test_mailbox_names_must_be_unique():
    with pytest.raises(ValidationError, match="repeated: \\['support'\\]"):
        Settings(imap_mailboxes=[MAILBOX, MAILBOX])


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "has space"),
        ("name", ""),
        ("folder", "Boîte"),  # would need modified UTF-7
        ("folder", "line\r\nbreak"),
        ("host", "imap.example.com/evil"),
        ("port", 0),
        ("password", ""),
    ],
)
def test_mailbox_settings_are_validated(field, value):
    with pytest.raises(ValidationError):
        ImapMailbox(**{**MAILBOX, field: value})


def test_an_unknown_mailbox_key_is_refused_rather_than_ignored():
    with pytest.raises(ValidationError, match="extra"):
        ImapMailbox(**{**MAILBOX, "tsl": False})
