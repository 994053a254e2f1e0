"""HTTP edge of ingest: the raw-MIME webhook mail providers post to."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status

from ticketstream.contracts.events import InboundChannel
from ticketstream_ingest.intake import EmailIntake, IntakeStatus, NotAnEmailError
from ticketstream_ingest.models import InboundEmailResponse
from ticketstream_ingest.settings import Settings
from ticketstream_ingest.signatures import signature_problem

router = APIRouter(prefix="/v1/inbound", tags=["inbound"])

RFC822 = "message/rfc822"


def get_email_intake(request: Request) -> EmailIntake:
    intake: EmailIntake = request.app.state.email_intake
    return intake


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


EmailIntakeDep = Annotated[EmailIntake, Depends(get_email_intake)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


async def read_bounded_body(request: Request, limit: int) -> bytes:
    """The request body, refusing with 413 as soon as it passes `limit` bytes."""
    too_large = HTTPException(
        status.HTTP_413_CONTENT_TOO_LARGE,
        f"the message is larger than the limit of {limit} bytes",
    )
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise too_large
    return bytes(body)


@router.post(
    "/email",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Receive one raw RFC 5322 message (Content-Type: message/rfc822)",
    responses={
        200: {"description": "Already received: nothing new was published"},
        202: {"description": "Accepted, or held in quarantine (status says which, reason says why)"},
        413: {"description": "Larger than TICKETSTREAM_INBOUND_MAX_BYTES"},
        415: {"description": "Not message/rfc822"},
        422: {"description": "Not an email at all (empty, or no header block)"},
    },
)
async def receive_email(
    request: Request, response: Response, intake: EmailIntakeDep, settings: SettingsDep
) -> InboundEmailResponse:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != RFC822:
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            f"send the raw message with Content-Type: {RFC822} (got {content_type or 'none'})",
        )
    raw = await read_bounded_body(request, settings.inbound_max_bytes)
    now = datetime.now(UTC)
    problem = None
    if settings.inbound_webhook_secret:
        problem = signature_problem(
            settings.inbound_webhook_secret,
            timestamp=request.headers.get("x-ticketstream-timestamp"),
            signature=request.headers.get("x-ticketstream-signature"),
            body=raw,
            now=now,
            tolerance_seconds=settings.inbound_webhook_tolerance_seconds,
        )
    try:
        result = await intake.receive(raw, channel=InboundChannel.WEBHOOK, now=now, signature_problem=problem)
    except NotAnEmailError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from error
    if result.status is IntakeStatus.DUPLICATE:
        response.status_code = status.HTTP_200_OK
    return InboundEmailResponse(
        status=result.status.value,
        inbound_id=result.inbound_id,
        message_id=result.message_id,
        reason=result.reason,
    )
