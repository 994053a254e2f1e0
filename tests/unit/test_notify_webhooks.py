"""Unit tests of notify's webhook rules: signatures, retry schedule, SSRF classification, filters."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import itertools
import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers import ticket_created, ticket_snapshot
from ticketstream.contracts import Envelope
from ticketstream.contracts.events import InteractionSummary, TicketInteractionAdded
from ticketstream.contracts.models import InteractionType
from ticketstream_notify import ssrf, webhook_signing, webhooks
from ticketstream_notify.domain import principal_recipients
from ticketstream_notify.settings import DEFAULT_WEBHOOK_RETRY_SCHEDULE, Settings
from ticketstream_notify.webhooks import AttemptOutcome, DisablePolicy, SubscriptionTarget

# The key, message and signature below were computed outside Python with
# `openssl dgst -sha256 -mac HMAC -macopt hexkey:<key> -binary | base64`.
VECTOR_KEY = b"ticketstream-webhook-test-key-32"
VECTOR_SECRET = "whsec_dGlja2V0c3RyZWFtLXdlYmhvb2stdGVzdC1rZXktMzI="
VECTOR_ID = "msg_test1"
VECTOR_TIMESTAMP = 1767225600
VECTOR_BODY = b'{"type":"ticket.created"}'
VECTOR_SIGNATURE = "v1,oI33nOj6F86nxTtAEKsKbtLEhClqbamF4MCLh7tBCkw="


# --- signing ---------------------------------------------------------------------------------


def test_the_signature_matches_a_vector_computed_independently() -> None:
    assert base64.b64decode(VECTOR_SECRET.removeprefix("whsec_")) == VECTOR_KEY
    signed = webhook_signing.sign(
        VECTOR_SECRET, message_id=VECTOR_ID, timestamp=VECTOR_TIMESTAMP, body=VECTOR_BODY
    )
    assert signed == VECTOR_SIGNATURE


def test_the_signature_is_hmac_sha256_of_id_timestamp_and_body_under_the_decoded_key() -> None:
    secret = webhook_signing.generate_secret()
    body = json.dumps({"x": "é"}).encode()
    expected = hmac.new(
        base64.b64decode(secret[len("whsec_") :]), b"msg_1.42." + body, hashlib.sha256
    ).digest()
    assert webhook_signing.sign(secret, message_id="msg_1", timestamp=42, body=body) == (
        "v1," + base64.b64encode(expected).decode()
    )


def test_during_a_rotation_the_header_carries_one_signature_per_secret() -> None:
    old, new = webhook_signing.generate_secret(), webhook_signing.generate_secret()
    headers = webhook_signing.signing_headers([new, old], message_id="msg_2", timestamp=7, body=b"{}")
    assert headers["webhook-id"] == "msg_2"
    assert headers["webhook-timestamp"] == "7"
    first, second = headers["webhook-signature"].split(" ")
    assert first == webhook_signing.sign(new, message_id="msg_2", timestamp=7, body=b"{}")
    assert second == webhook_signing.sign(old, message_id="msg_2", timestamp=7, body=b"{}")
    assert first != second


def test_generated_secrets_are_prefixed_base64_of_32_random_bytes() -> None:
    one, two = webhook_signing.generate_secret(), webhook_signing.generate_secret()
    assert one.startswith("whsec_") and one != two
    assert len(webhook_signing.secret_key(one)) == 32


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        ("dGlja2V0c3RyZWFtLXdlYmhvb2stdGVzdC1rZXktMzI=", "starts with"),
        ("whsec_not base64!", "base64"),
        ("whsec_" + base64.b64encode(b"short").decode(), "not 5"),
        ("whsec_" + base64.b64encode(bytes(65)).decode(), "not 65"),
    ],
)
def test_malformed_secrets_are_refused_with_a_reason(secret: str, reason: str) -> None:
    with pytest.raises(webhook_signing.InvalidSecretError, match=reason):
        webhook_signing.secret_key(secret)


# --- retry schedule --------------------------------------------------------------------------

DAY = timedelta(hours=24)


def test_the_default_schedule_backs_off_and_ends_24_hours_after_the_first_attempt() -> None:
    offsets = webhooks.retry_timeline(DEFAULT_WEBHOOK_RETRY_SCHEDULE, DAY)
    gaps = [later - earlier for earlier, later in itertools.pairwise(offsets)]
    assert gaps[:9] == [timedelta(seconds=s) for s in (5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800)]
    assert offsets[-1] == DAY, "the last attempt is at the window's end"
    # The first attempt, nine scheduled waits, the 8 h wait once more, then one at the window's end.
    assert [offset.total_seconds() for offset in offsets[9:]] == [56555, 85355, 86400]
    assert all(gap > timedelta(0) for gap in gaps)


def test_the_last_wait_repeats_until_the_window_ends() -> None:
    offsets = webhooks.retry_timeline((1.0, 10.0), timedelta(seconds=35))
    assert [offset.total_seconds() for offset in offsets] == [0, 1, 11, 21, 31, 35]


def test_no_retry_is_planned_once_the_window_has_passed() -> None:
    first = datetime(2026, 1, 1, tzinfo=UTC)
    kwargs = {"first_attempt_at": first, "schedule": (5.0,), "window": DAY}
    assert webhooks.next_attempt_at(attempts=3, now=first + DAY, **kwargs) is None  # type: ignore[arg-type]
    clipped = webhooks.next_attempt_at(attempts=3, now=first + DAY - timedelta(seconds=1), **kwargs)  # type: ignore[arg-type]
    assert clipped == first + DAY


def test_a_schedule_setting_reads_a_json_list() -> None:
    settings = Settings(webhook_retry_schedule_seconds=[0.1, 0.2])  # type: ignore[arg-type]
    assert settings.webhook_retry_schedule_seconds == (0.1, 0.2)
    with pytest.raises(ValueError, match="negative"):
        Settings(webhook_retry_schedule_seconds=[1, -1])  # type: ignore[arg-type]


def test_private_targets_cannot_be_allowed_in_production() -> None:
    with pytest.raises(ValueError, match="WEBHOOK_ALLOW_PRIVATE"):
        Settings(env="production", jwt_secret="x" * 32, webhook_allow_private=True)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status_code", "outcome"),
    [
        (200, AttemptOutcome.DELIVERED),
        (204, AttemptOutcome.DELIVERED),
        (299, AttemptOutcome.DELIVERED),
        (301, AttemptOutcome.RETRY),
        (410, AttemptOutcome.GONE),
        (429, AttemptOutcome.RETRY),
        (500, AttemptOutcome.RETRY),
        (None, AttemptOutcome.RETRY),
    ],
)
def test_responses_are_classified(status_code: int | None, outcome: AttemptOutcome) -> None:
    assert webhooks.classify_response(status_code) is outcome


# --- disabling -------------------------------------------------------------------------------

POLICY = DisablePolicy(failed_deliveries=3, failing_for=timedelta(hours=72))
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def test_a_subscription_is_disabled_after_consecutive_exhausted_deliveries() -> None:
    assert (
        webhooks.disable_reason(consecutive_failed_deliveries=2, failing_since=NOW, now=NOW, policy=POLICY)
        is None
    )
    reason = webhooks.disable_reason(
        consecutive_failed_deliveries=3, failing_since=NOW, now=NOW, policy=POLICY
    )
    assert reason == "3 deliveries in a row failed after every retry"


def test_a_subscription_is_disabled_after_failing_continuously_for_too_long() -> None:
    since = NOW - timedelta(hours=71)
    assert (
        webhooks.disable_reason(consecutive_failed_deliveries=0, failing_since=since, now=NOW, policy=POLICY)
        is None
    )
    reason = webhooks.disable_reason(
        consecutive_failed_deliveries=0, failing_since=NOW - timedelta(hours=72), now=NOW, policy=POLICY
    )
    assert reason == "every attempt failed for 72.0 hours"


def test_admins_read_the_admin_address_and_managers_do_not() -> None:
    assert webhooks.ADMINS in principal_recipients("ada", [], "admin")
    assert webhooks.ADMINS not in principal_recipients("mia", [], "manager")
    assert webhooks.ADMINS not in principal_recipients("al", [], "agent")


# --- event filters ---------------------------------------------------------------------------


def test_filters_accept_exact_types_family_wildcards_and_everything() -> None:
    assert webhooks.validate_event_filter(["ticket.created", " sla.* ", "ticket.created", "*"]) == [
        "ticket.created",
        "sla.*",
        "*",
    ]


@pytest.mark.parametrize(
    "pattern",
    ["ticket.nope", "inbound.message.received", "notify.*", "directory.agent", "tick*", "", "ticket."],
)
def test_filters_refuse_unknown_types_and_other_topics(pattern: str) -> None:
    with pytest.raises(webhooks.InvalidWebhookError, match="unknown event type"):
        webhooks.validate_event_filter([pattern])


def test_an_empty_filter_is_refused() -> None:
    with pytest.raises(webhooks.InvalidWebhookError, match="at least one"):
        webhooks.validate_event_filter([])


def test_every_ticket_and_sla_event_type_is_offered() -> None:
    assert "ticket.created" in webhooks.WEBHOOK_EVENT_TYPES
    assert "sla.breached" in webhooks.WEBHOOK_EVENT_TYPES
    assert all(name.split(".")[0] in {"ticket", "sla"} for name in webhooks.WEBHOOK_EVENT_TYPES)


@pytest.mark.parametrize(
    ("patterns", "event_type", "matches"),
    [
        (["ticket.created"], "ticket.created", True),
        (["ticket.created"], "ticket.updated", False),
        (["ticket.*"], "ticket.status_changed", True),
        (["ticket.*"], "sla.breached", False),
        (["sla.*"], "sla.breached", True),
        (["sla.*", "ticket.created"], "ticket.created", True),
        (["*"], "sla.met", True),
    ],
)
def test_filter_matching(patterns: list[str], event_type: str, matches: bool) -> None:
    assert webhooks.filter_matches(patterns, event_type) is matches


def _envelope(event: object, event_type: str) -> Envelope:
    return Envelope(
        id="evt-1",
        source="/ticketstream/tickets",
        type=event_type,
        time=datetime(2026, 3, 1, 12, tzinfo=UTC),
        subject="TKT-0001",
        data=event,  # type: ignore[arg-type]
    )


def _interaction(*, visible: bool) -> TicketInteractionAdded:
    ticket = ticket_snapshot()
    return TicketInteractionAdded(
        ticket_id=ticket.id,
        ref=ticket.ref,
        sequence=2,
        occurred_at=ticket.created_at,
        ticket=ticket,
        interaction=InteractionSummary(
            id="i1",
            type=InteractionType.EMAIL_OUTBOUND if visible else InteractionType.INTERNAL_NOTE,
            customer_visible=visible,
            body_text="secret note" if not visible else "hello",
            created_at=ticket.created_at,
        ),
    )


def test_internal_interactions_go_only_to_subscriptions_that_include_them() -> None:
    plain = SubscriptionTarget(id="wh_1", event_types=("ticket.*",), include_internal=False)
    internal = SubscriptionTarget(id="wh_2", event_types=("ticket.*",), include_internal=True)
    note = _envelope(_interaction(visible=False), "ticket.interaction_added")
    reply = _envelope(_interaction(visible=True), "ticket.interaction_added")
    assert not webhooks.wants(plain, note)
    assert webhooks.wants(internal, note)
    assert webhooks.wants(plain, reply)


def _queued(event_type: str, *, internal: bool) -> webhooks.Delivery:
    at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    return webhooks.Delivery(
        id="msg_1",
        subscription_id="wh_1",
        event_id="evt-1",
        event_type=event_type,
        ticket_id=None,
        ref=None,
        body="{}",
        status=webhooks.DeliveryStatus.PENDING,
        attempt_count=0,
        attempts=(),
        round_started_at=None,
        next_attempt_at=at,
        last_error=None,
        created_at=at,
        updated_at=at,
        internal=internal,
    )


def test_an_internal_note_is_flagged_when_queued() -> None:
    assert webhooks.is_internal(_envelope(_interaction(visible=False), "ticket.interaction_added"))
    assert not webhooks.is_internal(_envelope(_interaction(visible=True), "ticket.interaction_added"))


def test_a_queued_internal_delivery_is_withheld_once_the_subscription_stops_including_internal() -> None:
    now_plain = SubscriptionTarget(id="wh_1", event_types=("ticket.*",), include_internal=False)
    still_internal = SubscriptionTarget(id="wh_1", event_types=("ticket.*",), include_internal=True)
    note = _queued("ticket.interaction_added", internal=True)
    reason = webhooks.withheld_reason(now_plain, note)
    assert reason is not None and "internal" in reason
    assert webhooks.withheld_reason(still_internal, note) is None
    assert webhooks.withheld_reason(now_plain, _queued("ticket.interaction_added", internal=False)) is None


def test_a_delivery_queued_before_the_internal_flag_is_read_from_its_body() -> None:
    note = webhooks.envelope_body(_envelope(_interaction(visible=False), "ticket.interaction_added"))
    reply = webhooks.envelope_body(_envelope(_interaction(visible=True), "ticket.interaction_added"))
    assert webhooks.body_carries_internal(note)
    assert not webhooks.body_carries_internal(reply)
    assert not webhooks.body_carries_internal("not json")


def test_a_queued_delivery_is_withheld_once_the_filter_no_longer_matches_its_type() -> None:
    narrowed = SubscriptionTarget(id="wh_1", event_types=("sla.*",), include_internal=True)
    reason = webhooks.withheld_reason(narrowed, _queued("ticket.created", internal=False))
    assert reason is not None and "ticket.created" in reason
    assert webhooks.withheld_reason(narrowed, _queued("sla.breached", internal=False)) is None
    assert webhooks.withheld_reason(narrowed, _queued(webhooks.PING_EVENT_TYPE, internal=False)) is None


def test_the_body_is_the_event_as_a_structured_cloud_event() -> None:
    ticket = ticket_snapshot(ref="TKT-0042")
    envelope = _envelope(ticket_created(ticket), "ticket.created")
    body = json.loads(webhooks.envelope_body(envelope))
    assert body["specversion"] == "1.0"
    assert body["id"] == "evt-1"
    assert body["type"] == "ticket.created"
    assert body["time"] == "2026-03-01T12:00:00Z"
    assert body["subject"] == "TKT-0001"
    assert body["datacontenttype"] == "application/json"
    assert body["data"]["ref"] == "TKT-0042"
    assert body["data"]["ticket"]["id"] == ticket.id


def test_delivery_ids_are_stable_per_event_and_subscription() -> None:
    one = webhooks.delivery_id("evt-1", "wh_1")
    assert one == webhooks.delivery_id("evt-1", "wh_1")
    assert one != webhooks.delivery_id("evt-1", "wh_2")
    assert one != webhooks.delivery_id("evt-2", "wh_1")
    assert one.startswith("msg_")


# --- SSRF ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("100.127.255.254", "carrier-grade NAT"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("192.0.2.10", "not a public address"),
        ("198.18.0.1", "not a public address"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fd12:3456::1", "unique local"),
        ("fc00::1", "unique local"),
        ("fe80::1", "link-local"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "link-local"),
        ("::ffff:7f00:1", "loopback"),
        ("::127.0.0.1", "loopback"),
        ("64:ff9b::a9fe:a9fe", "link-local"),
        ("::ffff:0:7f00:1", "loopback"),  # IPv4-translated forms
        ("::ffff:0:a00:1", "private"),
        ("::ffff:0:808:808", "IPv4-translated"),
        ("2002:c0a8:0101::1", "private"),
        ("2001:db8::1", "not a public address"),
    ],
)
def test_non_public_addresses_are_refused_with_a_reason(address: str, reason: str) -> None:
    refusal = ssrf.address_refusal(ipaddress.ip_address(address))
    assert refusal is not None and reason in refusal


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "172.32.0.1",
        "100.128.0.1",
        "2606:4700:4700::1111",
        "::ffff:8.8.8.8",
        "2002:808:808::1",
    ],
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert ssrf.address_refusal(ipaddress.ip_address(address)) is None


def test_every_resolved_address_must_be_public_unless_private_targets_are_allowed() -> None:
    mixed = [ipaddress.ip_address("8.8.8.8"), ipaddress.ip_address("10.0.0.5")]
    refusal = ssrf.refusal_of_addresses("hooks.example.com", mixed, allow_private=False)
    assert refusal == "hooks.example.com resolves to 10.0.0.5, which is private (RFC 1918)"
    assert ssrf.refusal_of_addresses("hooks.example.com", mixed, allow_private=True) is None
    assert ssrf.refusal_of_addresses("nowhere.example", [], allow_private=True) == (
        "nowhere.example does not resolve to any address"
    )


def test_urls_are_parsed_into_host_port_and_target() -> None:
    target = ssrf.parse_target("https://Hooks.Example.com:8443/in?x=1", require_https=True)
    assert (target.scheme, target.host, target.port, target.target) == (
        "https",
        "hooks.example.com",
        8443,
        "/in?x=1",
    )
    assert ssrf.parse_target("http://[2606:4700::1]", require_https=False).host == "2606:4700::1"
    assert ssrf.parse_target("http://example.com", require_https=False).port == 80
    assert ssrf.parse_target("https://bücher.example/", require_https=True).host == "xn--bcher-kva.example"


@pytest.mark.parametrize(
    ("url", "require_https", "reason"),
    [
        ("ftp://example.com/x", False, "must start with https"),
        ("file:///etc/passwd", False, "must start with https"),
        ("http://example.com/x", True, "must use https in production"),
        ("https://user:pw@example.com/", False, "credentials"),
        ("https:///nohost", False, "no host"),
        ("https://example.com:99999/", False, "not a valid URL"),
        ("https://example.com/#frag", False, "fragment"),
        ("https://example.com/" + "a" * 2100, False, "longer than"),
        ("https://" + "a" * 64 + ".example/", False, "not a valid name"),
    ],
)
def test_malformed_or_unsafe_urls_are_refused(url: str, require_https: bool, reason: str) -> None:
    with pytest.raises(ssrf.UnsafeTargetError, match=reason):
        ssrf.parse_target(url, require_https=require_https)


def test_a_retired_secret_signs_only_until_its_grace_period_ends() -> None:
    subscription = webhooks.Subscription(
        id="wh_1",
        url="https://example.com/",
        event_types=("*",),
        include_internal=False,
        description="",
        enabled=True,
        secret="whsec_new",
        retiring_secrets=(webhooks.RetiringSecret(secret="whsec_old", signs_until=NOW + timedelta(hours=1)),),
        disabled_reason=None,
        disabled_at=None,
        consecutive_failed_deliveries=0,
        failing_since=None,
        last_success_at=None,
        created_by="ada",
        created_at=NOW,
        updated_at=NOW,
    )
    assert subscription.signing_secrets(NOW) == ["whsec_new", "whsec_old"]
    assert subscription.signing_secrets(NOW + timedelta(hours=1)) == ["whsec_new"]
