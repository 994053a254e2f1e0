"""Reading request bodies at the HTTP edge: size-bounded JSON and forms, with files.

Bodies are read through a counting stream, so an oversize request is refused with 413 as soon as
it passes its limit instead of after it has been spooled whole.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser

from ticketstream_ingest.forms import AttachmentTooLargeError, FormError

M = TypeVar("M", bound=BaseModel)

JSON = "application/json"
MULTIPART = "multipart/form-data"
URLENCODED = "application/x-www-form-urlencoded"
MAX_TEXT_FIELDS = 20
MAX_TEXT_FIELD_BYTES = 128 * 1024


@dataclass(frozen=True)
class Upload:
    """One file of a form, as the sender described it, with its bytes."""

    filename: str
    declared_type: str | None
    data: bytes


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def too_large(limit: int, what: str = "the request") -> HTTPException:
    return HTTPException(
        status.HTTP_413_CONTENT_TOO_LARGE,
        {"code": "payload_too_large", "message": f"{what} is larger than the limit of {limit} bytes"},
    )


def unsupported(got: str, *accepted: str) -> HTTPException:
    return HTTPException(
        status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
        f"send the request as {' or '.join(accepted)} (got {got or 'no Content-Type'})",
    )


def form_error(error: FormError) -> HTTPException:
    """A FormError as the platform's error body; too-large files are 413, the rest 422."""
    code = status.HTTP_413_CONTENT_TOO_LARGE if isinstance(error, AttachmentTooLargeError) else 422
    location = ["body", *error.field.split(".")] if error.field else ["body"]
    return HTTPException(
        code,
        {
            "code": "payload_too_large" if code == status.HTTP_413_CONTENT_TOO_LARGE else "validation_failed",
            "message": str(error),
            "details": [{"location": location, "message": str(error), "type": "value_error"}],
        },
    )


async def bounded_stream(request: Request, limit: int) -> AsyncGenerator[bytes, None]:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise too_large(limit)
        yield chunk


async def read_bounded(request: Request, limit: int) -> bytes:
    return b"".join([chunk async for chunk in bounded_stream(request, limit)])


def validated(model: type[M], data: bytes | Mapping[str, Any]) -> M:
    """`data` validated as `model`; errors become the platform's 422 with every problem listed."""
    try:
        if isinstance(data, bytes):
            return model.model_validate_json(data)
        return model.model_validate(data)
    except ValidationError as error:
        raise RequestValidationError(
            [{**item, "loc": ("body", *item["loc"])} for item in error.errors(include_url=False)]
        ) from error


async def read_form(request: Request, *, limit: int, max_files: int) -> FormData:
    """A multipart or urlencoded form, bounded in bytes, fields and files."""
    stream = bounded_stream(request, limit)
    try:
        if media_type(request) == MULTIPART:
            return await MultiPartParser(
                request.headers,
                stream,
                max_files=max_files,
                max_fields=MAX_TEXT_FIELDS,
                max_part_size=MAX_TEXT_FIELD_BYTES,
            ).parse()
        return await FormParser(
            request.headers, stream, max_fields=MAX_TEXT_FIELDS, max_part_size=MAX_TEXT_FIELD_BYTES
        ).parse()
    except MultiPartException as error:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"the form could not be read: {error.message}"
        ) from error
    finally:
        await stream.aclose()


async def split_form(form: FormData, *, file_field: str) -> tuple[dict[str, str], list[Upload]]:
    """The form's text fields (each at most once) and its files (only under `file_field`).

    The files' bytes are read (the whole body is bounded) and the form's spooled files closed.
    """
    fields: dict[str, str] = {}
    uploads: list[Upload] = []
    try:
        for name, value in form.multi_items():
            if isinstance(value, str):
                if name in fields:
                    raise _field_problem(name, "this field was sent more than once")
                fields[name] = value
            elif name != file_field:
                raise _field_problem(name, f"files are accepted only in the {file_field!r} field")
            elif value.filename or value.size:
                # An empty file input of a browser form sends a part with no name and no bytes.
                uploads.append(Upload(value.filename or "", value.content_type, await _bytes_of(value)))
    finally:
        await form.close()
    return fields, uploads


async def _bytes_of(upload: UploadFile) -> bytes:
    await upload.seek(0)
    return await upload.read()


def _field_problem(name: str, message: str) -> HTTPException:
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        {
            "code": "validation_failed",
            "message": f"{name}: {message}",
            "details": [{"location": ["body", name], "message": message, "type": "value_error"}],
        },
    )


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with its $defs inlined, for a hand-written OpenAPI request body."""
    schema = model.model_json_schema(by_alias=True)
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            reference = node.get("$ref", "")
            if reference.startswith("#/$defs/"):
                return resolve(definitions[reference.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved
