"""Signed, expiring satisfaction-survey tokens: the link a customer follows to rate a ticket.

Whoever resolves a ticket (notify, when it sends the survey) issues a token; ingest verifies it
when the form is opened and answered. The token is a compact HS256 JWT with its own audience, so
it can be neither used as a login or magic link nor made from one. Time is a parameter on both
sides: the issuer decides the lifetime, the verifier compares it with its own clock.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

CSAT_AUDIENCE = "ticketstream:csat"
ALGORITHM = "HS256"
# Clocks of the issuing and the verifying service may disagree a little.
CLOCK_SKEW = timedelta(seconds=60)


class InvalidCsatTokenError(ValueError):
    """The token was not issued by this deployment, was altered, or is not a survey token."""


class ExpiredCsatTokenError(InvalidCsatTokenError):
    """The token is genuine but its survey has closed."""


@dataclass(frozen=True)
class CsatClaims:
    """What a verified token says: which ticket the answer belongs to, and until when."""

    token_id: str
    ticket_id: str
    ref: str
    issued_at: datetime
    expires_at: datetime


def issue_csat_token(*, ticket_id: str, ref: str, secret: str, now: datetime, ttl: timedelta) -> str:
    """A survey token for one ticket, valid from `now` for `ttl`."""
    if not ticket_id or not ref:
        raise ValueError("a survey token needs the ticket's id and ref")
    if ttl <= timedelta(0):
        raise ValueError("a survey token needs a positive lifetime")
    issued = int(now.timestamp())
    claims = {
        "sub": ticket_id,
        "ref": ref,
        "aud": CSAT_AUDIENCE,
        "iat": issued,
        "exp": issued + int(ttl.total_seconds()),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_csat_token(token: str, *, secret: str, now: datetime) -> CsatClaims:
    """The claims of a genuine, unexpired token.

    Raises ExpiredCsatTokenError when the survey has closed and InvalidCsatTokenError for
    anything else (altered, foreign, malformed). The signature is checked before the expiry, so
    an altered token is reported as invalid, never as merely expired.
    """
    claims = _signed_claims(token, secret)
    try:
        ticket_id, ref = str(claims["sub"]), str(claims["ref"])
        issued_at = datetime.fromtimestamp(int(claims["iat"]), UTC)
        expires_at = datetime.fromtimestamp(int(claims["exp"]), UTC)
    except (KeyError, TypeError, ValueError, OverflowError) as error:
        raise InvalidCsatTokenError("the survey link is malformed") from error
    if not ticket_id or not ref:
        raise InvalidCsatTokenError("the survey link is malformed")
    if now >= expires_at + CLOCK_SKEW:
        raise ExpiredCsatTokenError(f"the survey link expired at {expires_at.isoformat()}")
    return CsatClaims(
        token_id=token_id_of(token),
        ticket_id=ticket_id,
        ref=ref,
        issued_at=issued_at,
        expires_at=expires_at,
    )


def token_id_of(token: str) -> str:
    """A stable id of a token, from its signed part only.

    The signature segment is base64 and its last character may carry unused bits, so two
    spellings can verify alike; hashing header and payload gives both the same id.
    """
    signed_part = token.rsplit(".", 1)[0]
    return hashlib.sha256(signed_part.encode()).hexdigest()[:32]


def _signed_claims(token: str, secret: str) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=CSAT_AUDIENCE,
            # Expiry is judged against the caller's `now` below, not the process clock.
            options={
                "require": ["sub", "ref", "aud", "iat", "exp"],
                "verify_exp": False,
                "verify_iat": False,
            },
        )
    except jwt.PyJWTError as error:
        raise InvalidCsatTokenError(f"the survey link is not valid: {error}") from error
    return claims
