"""The shared-secret signature mail providers put on webhook posts, checked without IO.

Signature: `X-Ticketstream-Signature: sha256=<hex>` where hex is HMAC-SHA256 with the secret over
`<X-Ticketstream-Timestamp>.` followed by the raw body; the timestamp (Unix seconds) must be
recent, so a captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

SIGNATURE_PREFIX = "sha256="
MAX_TIMESTAMP_DIGITS = 12


def webhook_signature(secret: str, *, timestamp: str, body: bytes) -> str:
    """The signature header value a sender computes for `body` at `timestamp`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def signature_problem(
    secret: str,
    *,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: datetime,
    tolerance_seconds: int,
) -> str | None:
    """Why the signature does not hold, or None when it does."""
    if not timestamp or not signature:
        return "the request has no X-Ticketstream-Timestamp and X-Ticketstream-Signature headers"
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= MAX_TIMESTAMP_DIGITS):
        return "X-Ticketstream-Timestamp is not a Unix time in seconds"
    age = now.timestamp() - int(timestamp)
    if abs(age) > tolerance_seconds:
        return f"the signature timestamp is {int(age)} s away from now (tolerance {tolerance_seconds} s)"
    expected = webhook_signature(secret, timestamp=timestamp, body=body)
    offered = [part.strip() for part in signature.split(",")]
    if not any(hmac.compare_digest(expected, candidate) for candidate in offered):
        return "the signature does not match the body"
    return None
