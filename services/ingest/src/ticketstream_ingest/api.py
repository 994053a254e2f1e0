"""HTTP edge of ingest: the raw-MIME webhook mail providers post to."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status

from ticketstream.contracts.events import InboundChannel
from ticketstream_ingest.api_uploads import media_type, read_bounded, unsupported
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
    if (content_type := media_type(request)) != RFC822:
        raise unsupported(content_type, RFC822)
    raw = await read_bounded(request, settings.inbound_max_bytes)
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
