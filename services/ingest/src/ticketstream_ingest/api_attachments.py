"""Staff download of the files ingest kept from inbound mail and portal requests, by storage id."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status

from ticketstream.auth import StaffPrincipal
from ticketstream_ingest.store_files import AttachmentStore

router = APIRouter(prefix="/v1/attachments", tags=["attachments"])


def get_attachment_store(request: Request) -> AttachmentStore:
    store: AttachmentStore = request.app.state.attachment_store
    return store


AttachmentStoreDep = Annotated[AttachmentStore, Depends(get_attachment_store)]


def content_disposition(filename: str) -> str:
    """A download header that keeps non-ASCII names (RFC 6266) and cannot be broken by quotes."""
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "'").replace("?", "_")
    if ascii_name == filename:
        return f'attachment; filename="{ascii_name}"'
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


@router.get(
    "/{storage_id}",
    summary="The bytes of one stored attachment (always as a download)",
    response_class=Response,
)
async def download_attachment(storage_id: str, store: AttachmentStoreDep, _: StaffPrincipal) -> Response:
    stored = await store.get(storage_id)
    if stored is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no attachment with this id")
    return Response(
        content=stored.data,
        media_type=stored.ref.content_type,
        headers={
            "Content-Disposition": content_disposition(stored.ref.filename),
            # Never let a browser render an uploaded file as something more active than it says.
            "X-Content-Type-Options": "nosniff",
        },
    )
