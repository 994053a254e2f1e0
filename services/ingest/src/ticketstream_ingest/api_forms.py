"""HTTP edge of the channels that are not email: the portal form and chat transcripts (no login).

Each request is validated, rate-limited (portal), stored with its files and its event, and
answered 202 with a request id; `GET /v1/inbound/requests/{id}` tells when its ticket exists.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status

from ticketstream.contracts.events import AttachmentRef, InboundChannel
from ticketstream_ingest import forms
from ticketstream_ingest.api import SettingsDep
from ticketstream_ingest.api_uploads import (
    JSON,
    MULTIPART,
    URLENCODED,
    Upload,
    form_error,
    inline_schema,
    media_type,
    read_bounded,
    read_form,
    split_form,
    unsupported,
    validated,
)
from ticketstream_ingest.attachments import safe_filename, sniff_content_type
from ticketstream_ingest.models_forms import (
    AcceptedRequestResponse,
    ChatRequestBody,
    PortalRequestBody,
    RequestStatusResponse,
)
from ticketstream_ingest.rate_limits import RateScope, address_rate_key, client_address, rate_decision
from ticketstream_ingest.settings import Settings
from ticketstream_ingest.signatures import signature_problem
from ticketstream_ingest.store_files import StoredFile
from ticketstream_ingest.store_rates import RateStore
from ticketstream_ingest.store_requests import RequestStore

router = APIRouter(prefix="/v1/inbound", tags=["inbound"])

PORTAL_JSON_MAX_BYTES = 256 * 1024
# Room for the text fields and multipart framing on top of the attachments' own bytes.
FORM_FIELDS_ALLOWANCE = 256 * 1024
FILE_FIELD = "attachments"


def get_request_store(request: Request) -> RequestStore:
    store: RequestStore = request.app.state.request_store
    return store


def get_rate_store(request: Request) -> RateStore:
    store: RateStore = request.app.state.rate_store
    return store


RequestStoreDep = Annotated[RequestStore, Depends(get_request_store)]
RateStoreDep = Annotated[RateStore, Depends(get_rate_store)]

# The routes read their bodies themselves (JSON or a form), so OpenAPI is told what they take.
_PORTAL_SCHEMA = inline_schema(PortalRequestBody)
_PORTAL_FORM_SCHEMA = {
    **_PORTAL_SCHEMA,
    "properties": {
        **_PORTAL_SCHEMA["properties"],
        FILE_FIELD: {"type": "array", "items": {"type": "string", "format": "binary"}},
    },
}
PORTAL_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            JSON: {"schema": _PORTAL_SCHEMA},
            MULTIPART: {"schema": _PORTAL_FORM_SCHEMA},
            URLENCODED: {"schema": _PORTAL_SCHEMA},
        },
    }
}
CHAT_BODY = {"requestBody": {"required": True, "content": {JSON: {"schema": inline_schema(ChatRequestBody)}}}}


@router.post(
    "/portal",
    status_code=status.HTTP_202_ACCEPTED,
    summary="A customer's request from the web form (JSON, or a form with files in 'attachments')",
    openapi_extra=PORTAL_BODY,
    responses={
        413: {"description": "A file or the files together exceed the limits"},
        415: {"description": "Not JSON, multipart/form-data or a urlencoded form"},
        422: {"description": "A field is missing or not valid; the details say which"},
        429: {"description": "Too many requests from this email or network address; see Retry-After"},
    },
)
async def submit_portal_request(
    request: Request, requests: RequestStoreDep, rates: RateStoreDep, settings: SettingsDep
) -> AcceptedRequestResponse:
    now = datetime.now(UTC)
    body, uploads = await _read_portal_request(request, settings)
    _check_attachment_sizes(uploads, settings)
    address = _client_address(request, settings)
    await _enforce_rate_limits(rates, settings, email=body.email, address=address, now=now)
    files = [_stored_file(upload) for upload in uploads]
    request_id = str(uuid.uuid4())
    message_id = forms.request_message_id(
        InboundChannel.PORTAL, request_id, domain=forms.id_domain(settings.support_address)
    )
    event = forms.portal_event(
        body.submission(),
        request_id=request_id,
        message_id=message_id,
        attachments=[file.ref for file in files],
        now=now,
    )
    await requests.accept_request(event=event, files=files, client_address=address)
    return AcceptedRequestResponse(request_id=request_id, status=forms.RequestStatus.PENDING)


async def _read_portal_request(
    request: Request, settings: Settings
) -> tuple[PortalRequestBody, list[Upload]]:
    kind = media_type(request)
    if kind == JSON:
        return validated(PortalRequestBody, await read_bounded(request, PORTAL_JSON_MAX_BYTES)), []
    if kind not in {MULTIPART, URLENCODED}:
        raise unsupported(kind, JSON, MULTIPART, URLENCODED)
    limit = settings.portal_attachments_max_bytes + FORM_FIELDS_ALLOWANCE
    # One file more than allowed still parses, so that the refusal can say how many were sent.
    form = await read_form(request, limit=limit, max_files=settings.portal_attachments_max_count + 1)
    fields, uploads = await split_form(form, file_field=FILE_FIELD)
    return validated(PortalRequestBody, fields), uploads


def _check_attachment_sizes(uploads: list[Upload], settings: Settings) -> None:
    limits = forms.AttachmentLimits(
        max_file_bytes=settings.portal_attachment_max_bytes,
        max_total_bytes=settings.portal_attachments_max_bytes,
        max_files=settings.portal_attachments_max_count,
    )
    sizes = [(safe_filename(upload.filename), len(upload.data)) for upload in uploads]
    try:
        forms.check_attachment_sizes(sizes, limits)
    except forms.FormError as error:
        raise form_error(error) from error


def _client_address(request: Request, settings: Settings) -> str:
    return client_address(
        request.client.host if request.client else None,
        request.headers.get("x-forwarded-for"),
        trusted_hops=settings.trusted_proxy_hops,
    )


def _stored_file(upload: Upload) -> StoredFile:
    ref = AttachmentRef(
        filename=safe_filename(upload.filename),
        content_type=sniff_content_type(upload.data, declared=upload.declared_type),
        size=len(upload.data),
        storage_id=str(uuid.uuid4()),
    )
    return StoredFile(ref=ref, data=upload.data)


async def _enforce_rate_limits(
    rates: RateStore, settings: Settings, *, email: str, address: str, now: datetime
) -> None:
    keys = {RateScope.SENDER: email, RateScope.ADDRESS: address_rate_key(address)}
    limits = {
        RateScope.SENDER: settings.portal_rate_per_hour,
        RateScope.ADDRESS: settings.portal_rate_per_ip_per_hour,
    }
    counted = {scope: key for scope, key in keys.items() if limits[scope] > 0}
    if not counted:
        return
    counts = await rates.hit(channel="portal", keys=counted, now=now)
    decision = rate_decision(counts, limits, now=now)
    if decision.allowed:
        return
    await rates.take_back(channel="portal", keys=counted, now=now)
    raise HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS,
        {
            "code": "rate_limited",
            "message": decision.reason,
            "details": {
                "scope": decision.scope.value if decision.scope else None,
                "retry_after_seconds": decision.retry_after_seconds,
            },
        },
        headers={"Retry-After": str(decision.retry_after_seconds)},
    )


@router.post(
    "/chat",
    status_code=status.HTTP_202_ACCEPTED,
    summary="A chat conversation (JSON transcript) that becomes a ticket",
    openapi_extra=CHAT_BODY,
    responses={
        401: {"description": "CHAT_SECRET is set and the signature is missing, stale or wrong"},
        413: {"description": "Larger than TICKETSTREAM_CHAT_MAX_BYTES"},
        415: {"description": "Not JSON"},
        422: {"description": "Not a usable transcript; the details say why"},
    },
)
async def submit_chat(
    request: Request, requests: RequestStoreDep, settings: SettingsDep
) -> AcceptedRequestResponse:
    now = datetime.now(UTC)
    kind = media_type(request)
    if kind != JSON:
        raise unsupported(kind, JSON)
    raw = await read_bounded(request, settings.chat_max_bytes)
    if settings.chat_secret:
        problem = signature_problem(
            settings.chat_secret,
            timestamp=request.headers.get("x-ticketstream-timestamp"),
            signature=request.headers.get("x-ticketstream-signature"),
            body=raw,
            now=now,
            tolerance_seconds=settings.inbound_webhook_tolerance_seconds,
        )
        if problem is not None:
            # Agents' and bots' lines are shown to the customer as from support: only the chat
            # system may write them.
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, f"the chat transcript is not signed: {problem}")
    submission = validated(ChatRequestBody, raw).submission()
    try:
        forms.check_transcript(submission.transcript, now=now)
    except forms.FormError as error:
        raise form_error(error) from error
    request_id = str(uuid.uuid4())
    message_id = forms.request_message_id(
        InboundChannel.CHAT, request_id, domain=forms.id_domain(settings.support_address)
    )
    event = forms.chat_event(submission, request_id=request_id, message_id=message_id, now=now)
    await requests.accept_request(event=event, files=[], client_address=_client_address(request, settings))
    return AcceptedRequestResponse(request_id=request_id, status=forms.RequestStatus.PENDING)


@router.get(
    "/requests/{request_id}",
    summary="Whether a portal or chat request has become a ticket yet, and which",
    response_model_exclude_none=True,
    responses={404: {"description": "No request has this id"}},
)
async def request_status(request_id: str, requests: RequestStoreDep) -> RequestStatusResponse:
    state = await requests.request_state(request_id)
    if state is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no request {request_id!r}")
    return RequestStatusResponse(request_id=state.request_id, status=state.status, ref=state.ref)
