"""Unit tests of the shared settings object and of JWT authentication (ARCHITECTURE §2, §6)."""

from __future__ import annotations

import os
import time

import jwt
import pytest
from pydantic import ValidationError

from ticketstream.auth import (
    STAFF_ROLES,
    InvalidTokenError,
    Principal,
    Role,
    TokenVerifier,
    issue_dev_token,
)
from ticketstream.contracts import topics
from ticketstream.settings import DEV_JWT_SECRET, Environment, PlatformSettings
from ticketstream_analytics.settings import Settings as AnalyticsSettings
from ticketstream_ingest.settings import Settings as IngestSettings
from ticketstream_notify.settings import Settings as NotifySettings
from ticketstream_sla.settings import Settings as SlaSettings
from ticketstream_tickets.settings import Settings as TicketsSettings

OTHER_SECRET = "another-secret-that-is-long-enough-for-hs256-0123"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Defaults must be the documented ones whatever the developer's shell exports."""
    for name in list(os.environ):
        if name.startswith("TICKETSTREAM_"):
            monkeypatch.delenv(name)


# --- settings -------------------------------------------------------------------------------


def test_platform_defaults() -> None:
    settings = PlatformSettings()

    assert settings.env is Environment.DEV
    assert settings.kafka_bootstrap == "127.0.0.1:9092"
    assert settings.mongo_url.startswith("mongodb://127.0.0.1:27017")
    assert settings.topic_partitions == 6
    assert settings.topic_prefix == ""
    assert settings.support_address == "support@ticketstream.local"
    assert settings.smtp_url is None
    assert settings.jwt_secret == DEV_JWT_SECRET
    assert settings.jwt_jwks_url is None
    assert [settings.port_of(name) for name in ("ingest", "tickets", "sla", "notify", "analytics")] == [
        8081,
        8082,
        8083,
        8084,
        8085,
    ]


def test_environment_variables_use_the_ticketstream_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKETSTREAM_KAFKA_BOOTSTRAP", "kafka-1:9093,kafka-2:9093")
    monkeypatch.setenv("TICKETSTREAM_TOPIC_PARTITIONS", "12")
    monkeypatch.setenv("TICKETSTREAM_TICKETS_PORT", "9182")
    monkeypatch.setenv("TICKETSTREAM_ENV", "test")
    monkeypatch.setenv("TICKETSTREAM_SUPPORT_ADDRESS", "help@acme.example")
    monkeypatch.setenv("KAFKA_BOOTSTRAP", "ignored-without-prefix:1")

    settings = TicketsSettings()

    assert settings.kafka_bootstrap == "kafka-1:9093,kafka-2:9093"
    assert settings.topic_partitions == 12
    assert settings.port == 9182
    assert settings.env is Environment.TEST
    assert settings.support_address == "help@acme.example"


def test_invalid_environment_value_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKETSTREAM_TOPIC_PARTITIONS", "0")
    with pytest.raises(ValidationError, match="topic_partitions"):
        PlatformSettings()


def test_production_refuses_the_dev_jwt_secret() -> None:
    with pytest.raises(ValidationError, match="TICKETSTREAM_JWT_SECRET"):
        PlatformSettings(env=Environment.PRODUCTION)


def test_production_refuses_the_dev_jwt_secret_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKETSTREAM_ENV", "production")
    with pytest.raises(ValidationError, match="TICKETSTREAM_JWT_SECRET"):
        TicketsSettings()


def test_production_accepts_a_real_secret_with_or_without_jwks() -> None:
    with_secret = PlatformSettings(env=Environment.PRODUCTION, jwt_secret=OTHER_SECRET)
    with_jwks = PlatformSettings(
        env=Environment.PRODUCTION,
        jwt_secret=OTHER_SECRET,
        jwt_jwks_url="https://idp.example.test/.well-known/jwks.json",
    )

    assert with_secret.jwt_secret == OTHER_SECRET
    assert with_jwks.jwt_jwks_url == "https://idp.example.test/.well-known/jwks.json"


def test_production_refuses_the_dev_secret_even_with_jwks() -> None:
    """The secret also signs customers' magic links, so JWKS alone is not enough."""
    with pytest.raises(ValidationError, match="TICKETSTREAM_JWT_SECRET"):
        PlatformSettings(env=Environment.PRODUCTION, jwt_jwks_url="https://idp.example.test/jwks.json")


@pytest.mark.parametrize("env", [Environment.DEV, Environment.TEST])
def test_dev_secret_is_fine_outside_production(env: Environment) -> None:
    assert PlatformSettings(env=env).jwt_secret == DEV_JWT_SECRET


def test_topic_consumer_group_and_database_names_without_prefixes() -> None:
    settings = SlaSettings()

    assert settings.topic(topics.TICKETS) == "ticketstream.tickets.v1"
    assert settings.consumer_group == "ticketstream-sla"
    assert settings.database_name == "ticketstream_sla"


def test_topic_consumer_group_and_database_names_with_prefixes() -> None:
    settings = NotifySettings(topic_prefix="t1a2.", database_prefix="t1a2")

    assert settings.topic(topics.TICKETS) == "t1a2.ticketstream.tickets.v1"
    assert settings.topic(topics.dlq_of(topics.INBOUND)) == "t1a2.ticketstream.inbound.v1.dlq"
    assert settings.consumer_group == "t1a2.ticketstream-notify"
    assert settings.database_name == "t1a2_notify"


@pytest.mark.parametrize(
    ("settings_class", "name", "port"),
    [
        (IngestSettings, "ingest", 8081),
        (TicketsSettings, "tickets", 8082),
        (SlaSettings, "sla", 8083),
        (NotifySettings, "notify", 8084),
        (AnalyticsSettings, "analytics", 8085),
    ],
)
def test_each_service_settings_names_itself(
    settings_class: type[PlatformSettings], name: str, port: int
) -> None:
    settings = settings_class()

    assert settings.service_name == name
    assert settings.port == port
    assert settings.database_name == f"ticketstream_{name}"
    assert settings.consumer_group == f"ticketstream-{name}"
    assert settings.service_url(name) == f"http://127.0.0.1:{port}"


def test_ingest_settings_has_its_smtp_listener() -> None:
    settings = IngestSettings()
    assert settings.smtp_port == 2525
    assert settings.inbound_max_bytes == 25 * 1024 * 1024


def test_settings_are_frozen() -> None:
    settings = PlatformSettings()
    with pytest.raises(ValidationError):
        settings.topic_partitions = 3  # type: ignore[misc]


# --- auth -----------------------------------------------------------------------------------


def test_dev_token_round_trip() -> None:
    settings = PlatformSettings()
    token = issue_dev_token(
        settings,
        sub="alice",
        role=Role.TEAM_LEAD,
        teams=["support", "billing"],
        email="alice@example.com",
        name="Alice Agent",
    )

    principal = TokenVerifier(settings).verify(token)

    assert principal == Principal(
        sub="alice",
        role=Role.TEAM_LEAD,
        email="alice@example.com",
        name="Alice Agent",
        teams=["support", "billing"],
    )


def test_minimal_dev_token_round_trip() -> None:
    settings = PlatformSettings()
    principal = TokenVerifier(settings).verify(issue_dev_token(settings, sub="c-1", role=Role.CUSTOMER))

    assert principal.sub == "c-1"
    assert principal.role is Role.CUSTOMER
    assert principal.teams == []
    assert principal.email is None
    assert principal.name is None


def test_dev_token_with_audience_and_issuer_round_trip() -> None:
    settings = PlatformSettings(jwt_audience="ticketstream", jwt_issuer="https://idp.example.test")
    token = issue_dev_token(settings, sub="bob", role=Role.AGENT)

    assert TokenVerifier(settings).verify(token).sub == "bob"
    with pytest.raises(InvalidTokenError):
        TokenVerifier(PlatformSettings(jwt_audience="someone-else")).verify(token)


def test_token_signed_with_another_secret_is_refused() -> None:
    token = issue_dev_token(PlatformSettings(jwt_secret=OTHER_SECRET), sub="mallory", role=Role.ADMIN)
    with pytest.raises(InvalidTokenError, match=r"(?i)signature"):
        TokenVerifier(PlatformSettings()).verify(token)


def test_expired_token_is_refused() -> None:
    settings = PlatformSettings()
    token = issue_dev_token(settings, sub="alice", role=Role.AGENT, ttl_seconds=-60)
    with pytest.raises(InvalidTokenError, match="expired"):
        TokenVerifier(settings).verify(token)


@pytest.mark.parametrize("garbage", ["", "not-a-token", "a.b.c", "Bearer x.y.z"])
def test_garbage_token_is_refused(garbage: str) -> None:
    with pytest.raises(InvalidTokenError):
        TokenVerifier(PlatformSettings()).verify(garbage)


def _signed(claims: dict[str, object]) -> str:
    return jwt.encode(claims, DEV_JWT_SECRET, algorithm="HS256")


def test_token_without_role_is_refused() -> None:
    token = _signed({"sub": "alice", "exp": int(time.time()) + 600})
    with pytest.raises(InvalidTokenError):
        TokenVerifier(PlatformSettings()).verify(token)


def test_token_with_unknown_role_is_refused() -> None:
    token = _signed({"sub": "alice", "role": "superuser", "exp": int(time.time()) + 600})
    with pytest.raises(InvalidTokenError):
        TokenVerifier(PlatformSettings()).verify(token)


def test_token_without_expiry_is_refused() -> None:
    token = _signed({"sub": "alice", "role": "agent"})
    with pytest.raises(InvalidTokenError, match="exp"):
        TokenVerifier(PlatformSettings()).verify(token)


def test_token_without_subject_is_refused() -> None:
    token = _signed({"role": "agent", "exp": int(time.time()) + 600})
    with pytest.raises(InvalidTokenError, match="sub"):
        TokenVerifier(PlatformSettings()).verify(token)


def test_unsigned_token_is_refused() -> None:
    token = jwt.encode({"sub": "eve", "role": "admin", "exp": int(time.time()) + 600}, None, algorithm="none")
    with pytest.raises(InvalidTokenError):
        TokenVerifier(PlatformSettings()).verify(token)


@pytest.mark.parametrize(
    ("role", "is_staff"),
    [
        (Role.CUSTOMER, False),
        (Role.AGENT, True),
        (Role.TEAM_LEAD, True),
        (Role.MANAGER, True),
        (Role.ADMIN, True),
    ],
)
def test_principal_is_staff(role: Role, is_staff: bool) -> None:
    assert Principal(sub="u", role=role).is_staff is is_staff


def test_role_names_are_the_documented_claims() -> None:
    assert [role.value for role in Role] == ["customer", "agent", "team_lead", "manager", "admin"]
    assert frozenset(Role) - STAFF_ROLES == {Role.CUSTOMER}


def test_api_keys_parse_back_to_their_id_and_a_secret_matching_only_its_digest() -> None:
    from ticketstream.auth import digest_matches, new_api_key, parse_api_key

    key = new_api_key()
    parsed = parse_api_key(key.presented)

    assert parsed is not None and parsed[0] == key.key_id
    assert digest_matches(parsed[1], key.secret_digest)
    assert not digest_matches(parsed[1] + "x", key.secret_digest)
    assert key.presented not in repr(key)


@pytest.mark.parametrize("presented", ["tsk_", "tsk_abc", "tsk__secret", "sk_abc_secret", "eyJhbGciOi"])
def test_malformed_api_keys_do_not_parse(presented: str) -> None:
    from ticketstream.auth import parse_api_key

    assert parse_api_key(presented) is None
