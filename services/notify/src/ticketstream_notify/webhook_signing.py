"""Webhook signatures as the Standard Webhooks scheme defines them. Pure: no IO.

The signed content is `<webhook-id>.<webhook-timestamp>.<body>`; the key is the secret's bytes
(the base64 text after `whsec_`); the header holds `v1,<base64 HMAC-SHA256>` once per secret that
currently signs, separated by spaces (the old and the new secret during a rotation's grace period).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Iterable

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
MIN_SECRET_BYTES = 24
MAX_SECRET_BYTES = 64
SIGNATURE_VERSION = "v1"


class InvalidSecretError(ValueError):
    """A secret that is not `whsec_` followed by base64 of 24 to 64 bytes."""


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_…` secret; InvalidSecretError says what is wrong with it."""
    if not secret.startswith(SECRET_PREFIX):
        raise InvalidSecretError(f"a webhook secret starts with {SECRET_PREFIX!r}")
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError) as error:
        raise InvalidSecretError(f"the part after {SECRET_PREFIX!r} must be base64") from error
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise InvalidSecretError(
            f"a webhook secret holds {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes, not {len(key)}"
        )
    return key


def sign(secret: str, *, message_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,<signature>` entry of the webhook-signature header."""
    signed_content = message_id.encode() + b"." + str(timestamp).encode() + b"." + body
    digest = hmac.new(secret_key(secret), signed_content, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def signature_header(secrets_in_use: Iterable[str], *, message_id: str, timestamp: int, body: bytes) -> str:
    """The webhook-signature value: one signature per secret, space separated."""
    return " ".join(
        sign(secret, message_id=message_id, timestamp=timestamp, body=body) for secret in secrets_in_use
    )


def signing_headers(
    secrets_in_use: Iterable[str], *, message_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(
            secrets_in_use, message_id=message_id, timestamp=timestamp, body=body
        ),
    }
