"""JWT bearer authentication, API keys and roles (ARCHITECTURE §6).

Dev and test use HS256 tokens signed with TICKETSTREAM_JWT_SECRET (`ticketstream token` prints
one); production verifies RS256 tokens against TICKETSTREAM_JWT_JWKS_URL.

Integrations use API keys (`tsk_<id>_<secret>`, as a bearer token or in X-API-Key). A service that
issues keys puts an `ApiKeyResolver` on `app.state.api_key_resolver`; only the secret's SHA-256 is
stored. A key acts with the role and teams it was given and only within its scopes: a router
names its area with `api_key_area("tickets")`, and its routes need `tickets:read` (GET, HEAD) or
`tickets:write`; routes of a router without an area refuse API keys.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Protocol

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from jwt.types import Options
from pydantic import BaseModel, Field, ValidationError

from ticketstream.settings import PlatformSettings


class Role(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    TEAM_LEAD = "team_lead"
    MANAGER = "manager"
    ADMIN = "admin"


STAFF_ROLES = frozenset({Role.AGENT, Role.TEAM_LEAD, Role.MANAGER, Role.ADMIN})


class Principal(BaseModel):
    """Who is calling, as the token says."""

    sub: str = Field(min_length=1)
    role: Role
    email: str | None = None
    name: str | None = None
    teams: list[str] = Field(default_factory=list)
    scopes: list[str] | None = Field(None, description="An API key's scopes; None for a person's token")

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def is_api_key(self) -> bool:
        return self.scopes is not None


class InvalidTokenError(Exception):
    pass


class TokenVerifier:
    def __init__(self, settings: PlatformSettings) -> None:
        self._settings = settings
        self._jwks = jwt.PyJWKClient(settings.jwt_jwks_url) if settings.jwt_jwks_url else None

    def verify(self, token: str) -> Principal:
        options: Options = {"require": ["sub", "exp"]}
        try:
            if self._jwks is not None:
                key = self._jwks.get_signing_key_from_jwt(token).key
                claims = jwt.decode(
                    token,
                    key,
                    algorithms=["RS256"],
                    audience=self._settings.jwt_audience,
                    issuer=self._settings.jwt_issuer,
                    options=options,
                )
            else:
                claims = jwt.decode(
                    token,
                    self._settings.jwt_secret,
                    algorithms=["HS256"],
                    audience=self._settings.jwt_audience,
                    issuer=self._settings.jwt_issuer,
                    options=options,
                )
        except jwt.PyJWTError as error:
            raise InvalidTokenError(str(error)) from error
        try:
            return Principal.model_validate(claims)
        except ValidationError as error:
            problems = "; ".join(
                f"claim {'.'.join(str(part) for part in item['loc'])!r}: {item['msg']}"
                for item in error.errors()
            )
            raise InvalidTokenError(problems) from error


def issue_dev_token(
    settings: PlatformSettings,
    *,
    sub: str,
    role: Role,
    teams: list[str] | None = None,
    email: str | None = None,
    name: str | None = None,
    ttl_seconds: int = 12 * 3600,
) -> str:
    """An HS256 token for development and tests, signed with the configured secret."""
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": sub,
        "role": role.value,
        "teams": teams or [],
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if email:
        claims["email"] = email
    if name:
        claims["name"] = name
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")


MAGIC_LINK_AUDIENCE = "ticketstream:magic-link"


@dataclass(frozen=True)
class MagicLinkGrant:
    """What a magic link lets its holder do: follow and answer one ticket as its requester."""

    ref: str
    email: str


def issue_magic_link(settings: PlatformSettings, *, ref: str, email: str) -> tuple[str, datetime]:
    """A signed, expiring token for one ticket; it is not a login token (its audience differs)."""
    expires = datetime.now(UTC) + timedelta(hours=settings.magic_link_ttl_hours)
    claims = {"sub": email, "ref": ref, "aud": MAGIC_LINK_AUDIENCE, "exp": int(expires.timestamp())}
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256"), expires


def verify_magic_link(settings: PlatformSettings, token: str) -> MagicLinkGrant:
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=["HS256"],
            audience=MAGIC_LINK_AUDIENCE,
            options={"require": ["sub", "ref", "exp", "aud"]},
        )
    except jwt.PyJWTError as error:
        raise InvalidTokenError(f"the link is not valid: {error}") from error
    return MagicLinkGrant(ref=str(claims["ref"]), email=str(claims["sub"]).lower())


# --- API keys ---------------------------------------------------------------------------------

API_KEY_PREFIX = "tsk_"


@dataclass(frozen=True)
class NewApiKey:
    key_id: str
    secret_digest: str
    presented: str = field(repr=False)  # shown to its creator once, never stored


def new_api_key() -> NewApiKey:
    key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    return NewApiKey(key_id, api_key_digest(secret), f"{API_KEY_PREFIX}{key_id}_{secret}")


def api_key_digest(secret: str) -> str:
    # A random 256-bit secret needs no slow hash: nothing to brute-force from its digest.
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_api_key(presented: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed key, else None."""
    if not presented.startswith(API_KEY_PREFIX):
        return None
    key_id, _, secret = presented.removeprefix(API_KEY_PREFIX).partition("_")
    return (key_id, secret) if key_id and secret else None


def digest_matches(secret: str, digest: str) -> bool:
    return hmac.compare_digest(api_key_digest(secret), digest)


class ApiKeyResolver(Protocol):
    async def resolve(self, key_id: str, secret: str, *, now: datetime) -> Principal | None:
        """The principal of a valid, unrevoked, unexpired key; None otherwise."""


def api_key_area(area: str) -> Callable[[Request], None]:
    """A router dependency: API keys need `<area>:read` or `<area>:write` for its routes."""

    def declare(request: Request) -> None:
        request.state.api_key_area = area

    return declare


def required_scope(request: Request) -> str | None:
    """The scope an API key needs here; None where API keys are not accepted at all."""
    area: str | None = getattr(request.state, "api_key_area", None)
    if area is None:
        return None
    return f"{area}:{'read' if request.method in {'GET', 'HEAD'} else 'write'}"


# --- FastAPI dependencies -----------------------------------------------------------------------

_bearer = HTTPBearer(auto_error=False, description="JWT bearer token, or an API key (tsk_…)")
_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key (tsk_…)")


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, message, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
    )


async def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key_header)],
) -> Principal:
    presented = api_key or (credentials.credentials if credentials else None)
    if presented is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "a bearer token or an API key is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if presented.startswith(API_KEY_PREFIX):
        return await _api_key_principal(request, presented)
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        return verifier.verify(presented)
    except InvalidTokenError as error:
        raise _unauthorized(f"invalid token: {error}") from error


async def _api_key_principal(request: Request, presented: str) -> Principal:
    resolver: ApiKeyResolver | None = getattr(request.app.state, "api_key_resolver", None)
    parsed = parse_api_key(presented)
    principal = await resolver.resolve(*parsed, now=datetime.now(UTC)) if resolver and parsed else None
    if principal is None:
        raise _unauthorized("invalid API key: unknown, revoked or expired")
    scope = required_scope(request)
    if scope is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "API keys cannot use this route")
    if scope not in (principal.scopes or []):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"this API key lacks the {scope} scope")
    return principal


def require_staff(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    if not principal.is_staff:
        # A customer token on a staff route: answer as if the route's resource does not exist.
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not found")
    return principal


def require_admin(principal: Annotated[Principal, Depends(require_staff)]) -> Principal:
    if principal.role is not Role.ADMIN:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only admins may do this")
    return principal


def require_manager(principal: Annotated[Principal, Depends(require_staff)]) -> Principal:
    if principal.role not in {Role.MANAGER, Role.ADMIN}:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only managers and admins may do this")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
StaffPrincipal = Annotated[Principal, Depends(require_staff)]
ManagerPrincipal = Annotated[Principal, Depends(require_manager)]
AdminPrincipal = Annotated[Principal, Depends(require_admin)]
