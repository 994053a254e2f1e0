"""API keys for integrations: admins (people, not other keys) create, list and revoke them."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status

from ticketstream.auth import AdminPrincipal, Principal, Role
from ticketstream_tickets.models_admin import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
)
from ticketstream_tickets.store_api_keys import ApiKey, ApiKeyStore

# Keys never manage keys (see require_admin_person), so no API key area is declared here.
router = APIRouter(prefix="/v1/api-keys", tags=["administration"])


def get_api_key_store(request: Request) -> ApiKeyStore:
    store: ApiKeyStore = request.app.state.api_key_store
    return store


def require_admin_person(principal: AdminPrincipal) -> Principal:
    # A key that could mint keys would outlive its own revocation.
    if principal.is_api_key:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "API keys cannot manage API keys")
    return principal


def _key_out(key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut.model_validate(asdict(key))


ApiKeyStoreDep = Annotated[ApiKeyStore, Depends(get_api_key_store)]
AdminPerson = Annotated[Principal, Depends(require_admin_person)]


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create an API key (its secret is shown once)")
async def create_api_key(body: ApiKeyCreate, store: ApiKeyStoreDep, principal: AdminPerson) -> ApiKeyCreated:
    now = datetime.now(UTC)
    if body.expires_at is not None and body.expires_at <= now:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "expires_at must be in the future")
    key, presented = await store.create(
        name=body.name,
        role=Role(body.role),
        teams=body.teams,
        scopes=list(body.scopes),
        expires_at=body.expires_at,
        actor=principal.sub,
        now=now,
    )
    return ApiKeyCreated(**_key_out(key).model_dump(), key=presented)


@router.get("", summary="API keys, without their secrets")
async def list_api_keys(store: ApiKeyStoreDep, _: AdminPerson) -> list[ApiKeyOut]:
    return [_key_out(key) for key in await store.list_keys()]


@router.delete("/{key_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Revoke an API key at once")
async def revoke_api_key(key_id: str, store: ApiKeyStoreDep, _: AdminPerson) -> Response:
    if not await store.revoke(key_id, now=datetime.now(UTC)):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no active API key {key_id}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
