"""Administration of the ticket vocabulary: the category and label lists and custom fields.

Every staff member may read them (the console offers them as choices); admins change them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status

from ticketstream.auth import AdminPrincipal, StaffPrincipal, api_key_area
from ticketstream_tickets.api import rule_error
from ticketstream_tickets.domain import DomainError
from ticketstream_tickets.models_admin import (
    ADMINISTRATION_AREA,
    CustomFieldIn,
    CustomFieldOut,
    ManagedListIn,
    ManagedListOut,
)
from ticketstream_tickets.store_vocabulary import ListName, VocabularyStore
from ticketstream_tickets.vocabulary import FieldDefinition, ManagedList

router = APIRouter(
    prefix="/v1", tags=["administration"], dependencies=[Depends(api_key_area(ADMINISTRATION_AREA))]
)


def get_vocabulary_store(request: Request) -> VocabularyStore:
    store: VocabularyStore = request.app.state.vocabulary_store
    return store


VocabularyStoreDep = Annotated[VocabularyStore, Depends(get_vocabulary_store)]


def _list_out(managed: ManagedList) -> ManagedListOut:
    return ManagedListOut(values=list(managed.values), restricted=managed.restricted)


def _field_out(definition: FieldDefinition) -> CustomFieldOut:
    return CustomFieldOut(
        key=definition.key,
        label=definition.label,
        type=definition.type,
        options=list(definition.options),
        required_to_resolve=definition.required_to_resolve,
    )


async def _put_list(
    name: ListName, body: ManagedListIn, store: VocabularyStore, actor: str, *, lower: bool = False
) -> ManagedListOut:
    values = [value.lower() for value in body.values] if lower else body.values
    managed = ManagedList(values=tuple(dict.fromkeys(values)), restricted=body.restricted)
    await store.put_managed_list(name, managed, actor=actor, now=datetime.now(UTC))
    return _list_out(managed)


@router.get("/categories", summary="The managed category list")
async def get_categories(store: VocabularyStoreDep, _: StaffPrincipal) -> ManagedListOut:
    return _list_out(await store.managed_list("categories"))


@router.put("/categories", summary="Replace the category list; restricted: only these are accepted")
async def put_categories(
    body: ManagedListIn, store: VocabularyStoreDep, principal: AdminPrincipal
) -> ManagedListOut:
    return await _put_list("categories", body, store, principal.sub)


@router.get("/labels", summary="The managed label (tag) list")
async def get_labels(store: VocabularyStoreDep, _: StaffPrincipal) -> ManagedListOut:
    return _list_out(await store.managed_list("labels"))


@router.put("/labels", summary="Replace the label list (lower-cased); restricted: only these are accepted")
async def put_labels(
    body: ManagedListIn, store: VocabularyStoreDep, principal: AdminPrincipal
) -> ManagedListOut:
    return await _put_list("labels", body, store, principal.sub, lower=True)


@router.get("/custom-fields", summary="Custom field definitions")
async def list_custom_fields(store: VocabularyStoreDep, _: StaffPrincipal) -> list[CustomFieldOut]:
    return [_field_out(definition) for definition in await store.custom_fields()]


@router.put("/custom-fields/{key}", summary="Define or change a custom field")
async def put_custom_field(
    key: str, body: CustomFieldIn, store: VocabularyStoreDep, principal: AdminPrincipal
) -> CustomFieldOut:
    try:
        definition = FieldDefinition(
            key=key,
            label=body.label,
            type=body.type,
            options=tuple(body.options),
            required_to_resolve=body.required_to_resolve,
        )
    except DomainError as error:
        raise rule_error(error) from error
    await store.put_custom_field(definition, actor=principal.sub, now=datetime.now(UTC))
    return _field_out(definition)


@router.delete(
    "/custom-fields/{key}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a custom field; values already on tickets stay readable",
)
async def delete_custom_field(key: str, store: VocabularyStoreDep, _: AdminPrincipal) -> Response:
    if not await store.delete_custom_field(key):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no custom field {key}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
