"""Satisfaction-survey tokens: issued for one ticket, verified, refused when altered or expired."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from ticketstream.auth import issue_magic_link
from ticketstream.csat_tokens import (
    CLOCK_SKEW,
    CSAT_AUDIENCE,
    CsatClaims,
    ExpiredCsatTokenError,
    InvalidCsatTokenError,
    issue_csat_token,
    token_id_of,
    verify_csat_token,
)
from ticketstream.settings import PlatformSettings

SECRET = "csat-test-secret-0123456789abcdef-0123"
NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
TTL = timedelta(days=7)


def token(**overrides: object) -> str:
    values: dict[str, object] = {
        "ticket_id": "t-1",
        "ref": "TKT-0042",
        "secret": SECRET,
        "now": NOW,
        "ttl": TTL,
    }
    values.update(overrides)
    return issue_csat_token(**values)  # type: ignore[arg-type]


def test_a_token_verifies_to_its_ticket_until_it_expires() -> None:
    issued = token()

    claims = verify_csat_token(issued, secret=SECRET, now=NOW + TTL - timedelta(seconds=1))

    assert claims == CsatClaims(
        token_id=token_id_of(issued),
        ticket_id="t-1",
        ref="TKT-0042",
        issued_at=NOW,
        expires_at=NOW + TTL,
    )
    assert len(claims.token_id) == 32


def test_the_token_is_compact_and_says_what_it_is_for() -> None:
    issued = token()
    payload = jwt.decode(issued, options={"verify_signature": False})
    assert payload == {
        "sub": "t-1",
        "ref": "TKT-0042",
        "aud": CSAT_AUDIENCE,
        "iat": int(NOW.timestamp()),
        "exp": int((NOW + TTL).timestamp()),
    }
    assert len(issued) < 250


def test_an_expired_token_is_reported_as_expired() -> None:
    issued = token()
    # A little clock skew between issuer and verifier is tolerated, no more.
    verify_csat_token(issued, secret=SECRET, now=NOW + TTL + CLOCK_SKEW - timedelta(seconds=1))
    with pytest.raises(ExpiredCsatTokenError, match="the survey link expired at 2026-12-08T09:30:00"):
        verify_csat_token(issued, secret=SECRET, now=NOW + TTL + CLOCK_SKEW)


def _reencoded_payload(issued: str, **changes: object) -> str:
    header, payload, signature = issued.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


@pytest.mark.parametrize(
    "altered",
    [
        pytest.param(lambda t: _reencoded_payload(t, sub="t-2"), id="other ticket"),
        pytest.param(lambda t: _reencoded_payload(t, exp=2_000_000_000), id="longer life"),
        pytest.param(lambda t: t[:-6] + ("AAAAAA" if not t.endswith("AAAAAA") else "BBBBBB"), id="signature"),
        pytest.param(lambda t: t.rsplit(".", 1)[0] + ".", id="no signature"),
        pytest.param(lambda t: "not-a-token", id="garbage"),
        pytest.param(lambda t: "", id="empty"),
    ],
)
def test_an_altered_token_is_invalid(altered: object) -> None:
    tampered = altered(token())  # type: ignore[operator]
    with pytest.raises(InvalidCsatTokenError) as raised:
        verify_csat_token(tampered, secret=SECRET, now=NOW)
    assert not isinstance(raised.value, ExpiredCsatTokenError)


def test_an_expired_and_altered_token_is_invalid_not_expired() -> None:
    tampered = _reencoded_payload(token(), sub="t-2")
    with pytest.raises(InvalidCsatTokenError) as raised:
        verify_csat_token(tampered, secret=SECRET, now=NOW + 10 * TTL)
    assert not isinstance(raised.value, ExpiredCsatTokenError)


def test_a_token_of_another_secret_or_purpose_is_invalid() -> None:
    with pytest.raises(InvalidCsatTokenError, match="Signature verification failed"):
        verify_csat_token(token(secret="another-secret-0123456789abcdef-0123"), secret=SECRET, now=NOW)
    settings = PlatformSettings(jwt_secret=SECRET)
    magic_link, _ = issue_magic_link(settings, ref="TKT-0042", email="kim@example.com")
    with pytest.raises(InvalidCsatTokenError, match="the survey link is not valid"):
        verify_csat_token(magic_link, secret=SECRET, now=datetime.now(UTC))
    lookalike = jwt.encode(
        {"sub": "t-1", "ref": "TKT-0042", "aud": "ticketstream:magic-link", "iat": 1, "exp": 2_000_000_000},
        SECRET,
        algorithm="HS256",
    )
    with pytest.raises(InvalidCsatTokenError, match="Audience doesn't match"):
        verify_csat_token(lookalike, secret=SECRET, now=NOW)


def test_a_signed_token_missing_claims_is_invalid() -> None:
    partial = jwt.encode(
        {"sub": "t-1", "aud": CSAT_AUDIENCE, "exp": 2_000_000_000}, SECRET, algorithm="HS256"
    )
    with pytest.raises(InvalidCsatTokenError, match="ref"):
        verify_csat_token(partial, secret=SECRET, now=NOW)


def test_the_token_id_ignores_how_the_signature_is_spelt() -> None:
    issued = token()
    header_payload, signature = issued.rsplit(".", 1)
    assert token_id_of(issued) == token_id_of(f"{header_payload}.{signature[:-1]}X")
    assert token_id_of(issued) != token_id_of(token(now=NOW + timedelta(seconds=1)))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"ticket_id": ""}, "needs the ticket's id and ref"),
        ({"ref": ""}, "needs the ticket's id and ref"),
        ({"ttl": timedelta(0)}, "positive lifetime"),
    ],
)
def test_issuing_refuses_what_could_never_verify(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        token(**overrides)
