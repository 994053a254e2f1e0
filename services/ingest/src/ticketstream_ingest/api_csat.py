"""HTTP edge of the satisfaction survey: the page a survey link opens and the answer it posts.

The token in the path is the only credential: signed and expiring (ticketstream.csat_tokens).
A browser (form post, or a GET that accepts HTML) gets HTML pages; API clients get JSON.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response

from ticketstream.csat_tokens import (
    CsatClaims,
    ExpiredCsatTokenError,
    InvalidCsatTokenError,
    verify_csat_token,
)
from ticketstream_ingest import csat_page, forms
from ticketstream_ingest.api import SettingsDep
from ticketstream_ingest.api_uploads import (
    JSON,
    MULTIPART,
    URLENCODED,
    media_type,
    read_bounded,
    read_form,
    split_form,
    unsupported,
    validated,
)
from ticketstream_ingest.models_forms import CsatBody, CsatSubmittedResponse
from ticketstream_ingest.store_csat import CsatOutcome, CsatStore

router = APIRouter(prefix="/v1/csat", tags=["satisfaction survey"])

MAX_TOKEN_CHARS = 2048
MAX_ANSWER_BYTES = 32 * 1024


def get_csat_store(request: Request) -> CsatStore:
    store: CsatStore = request.app.state.csat_store
    return store


CsatStoreDep = Annotated[CsatStore, Depends(get_csat_store)]


class SurveyUnavailableError(Exception):
    def __init__(self, status_code: int, code: str, reason: str) -> None:
        super().__init__(reason)
        self.status_code = status_code
        self.code = code
        self.reason = reason


def _claims(token: str, secret: str, now: datetime) -> CsatClaims:
    if len(token) > MAX_TOKEN_CHARS:
        raise SurveyUnavailableError(404, "not_found", "this survey link is not valid")
    try:
        return verify_csat_token(token, secret=secret, now=now)
    except ExpiredCsatTokenError as error:
        raise SurveyUnavailableError(
            status.HTTP_410_GONE, "survey_expired", "this survey has closed: the link has expired"
        ) from error
    except InvalidCsatTokenError as error:
        raise SurveyUnavailableError(
            status.HTTP_404_NOT_FOUND, "not_found", "this survey link is not valid"
        ) from error


def _unavailable(error: SurveyUnavailableError, *, html: bool) -> Response:
    """The refusal as an HTML page for a browser; for API clients, raised as the error body."""
    if html:
        return HTMLResponse(
            csat_page.unavailable(reason=error.reason),
            status_code=error.status_code,
            headers=csat_page.SECURITY_HEADERS,
        )
    raise HTTPException(error.status_code, {"code": error.code, "message": error.reason})


def _accepts_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


@router.get(
    "/{token}",
    response_class=HTMLResponse,
    summary="The survey page: a 1 to 5 choice and a comment (shows a previous answer)",
    responses={
        404: {"description": "Not a valid survey link"},
        410: {"description": "The survey has closed"},
    },
)
async def survey_page(token: str, request: Request, store: CsatStoreDep, settings: SettingsDep) -> Response:
    try:
        claims = _claims(token, settings.jwt_secret, datetime.now(UTC))
    except SurveyUnavailableError as error:
        return _unavailable(error, html=_accepts_html(request))
    previous = await store.answer(claims.token_id)
    page = csat_page.survey_form(
        ref=claims.ref, previous=previous, comment_limit=forms.MAX_CSAT_COMMENT_CHARS
    )
    return HTMLResponse(page, headers=csat_page.SECURITY_HEADERS)


@router.post(
    "/{token}",
    summary="Answer the survey (form-encoded from the page, or JSON): score 1 to 5 and a comment",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                JSON: {"schema": CsatBody.model_json_schema()},
                URLENCODED: {"schema": CsatBody.model_json_schema()},
            },
        }
    },
    responses={
        200: {"description": "The same answer as before: nothing new was published (or the HTML page)"},
        202: {"description": "Recorded, or replaced the previous answer", "model": CsatSubmittedResponse},
        404: {"description": "Not a valid survey link"},
        410: {"description": "The survey has closed"},
        422: {"description": "Score missing or not 1 to 5, or comment too long"},
    },
)
async def submit_survey(token: str, request: Request, store: CsatStoreDep, settings: SettingsDep) -> Response:
    now = datetime.now(UTC)
    kind = media_type(request)
    if kind not in {JSON, URLENCODED, MULTIPART}:
        raise unsupported(kind, URLENCODED, JSON)
    from_page = kind != JSON
    try:
        claims = _claims(token, settings.jwt_secret, now)
    except SurveyUnavailableError as error:
        return _unavailable(error, html=from_page)
    try:
        body = await _read_answer(request, from_page=from_page)
    except RequestValidationError:
        if not from_page:
            raise
        page = csat_page.unavailable(reason="Please choose a score from 1 to 5 and keep the comment short.")
        return HTMLResponse(page, status_code=422, headers=csat_page.SECURITY_HEADERS)
    csat = forms.csat_answer(body.score, body.comment)
    outcome = await store.submit(
        token_id=claims.token_id, ticket_id=claims.ticket_id, ref=claims.ref, csat=csat, now=now
    )
    if from_page:
        return HTMLResponse(
            csat_page.thank_you(ref=claims.ref, csat=csat), headers=csat_page.SECURITY_HEADERS
        )
    answer = CsatSubmittedResponse(
        status=outcome.value, ref=claims.ref, score=csat.score, comment=csat.comment
    )
    return JSONResponse(
        answer.model_dump(),
        status_code=status.HTTP_200_OK if outcome is CsatOutcome.UNCHANGED else status.HTTP_202_ACCEPTED,
    )


async def _read_answer(request: Request, *, from_page: bool) -> CsatBody:
    if not from_page:
        return validated(CsatBody, await read_bounded(request, MAX_ANSWER_BYTES))
    form = await read_form(request, limit=MAX_ANSWER_BYTES, max_files=0)
    fields, _ = await split_form(form, file_field="")
    return validated(CsatBody, fields)
