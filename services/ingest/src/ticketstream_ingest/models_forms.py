"""HTTP request and response models of the portal form, chat transcripts and the CSAT survey."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, EmailStr, Field

from ticketstream.contracts.events import ChatAuthorRole, ChatLine
from ticketstream.contracts.models import Person, Priority, TicketType
from ticketstream_ingest import forms


def _blank_is_none(value: Any) -> Any:
    # HTML forms send an untouched optional field as an empty string.
    return None if isinstance(value, str) and not value.strip() else value


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _single_line(value: str) -> str:
    return forms.one_line(forms.without_controls(value))


def _required_line(value: str) -> str:
    cleaned = _single_line(value)
    if not cleaned:
        raise ValueError("must not be blank")
    return cleaned


def _required_text(value: str) -> str:
    cleaned = forms.without_controls(value).strip()
    if not cleaned:
        raise ValueError("must not be blank")
    return cleaned


def _optional_line(value: str) -> str | None:
    return _single_line(value) or None


def _optional_text(value: str) -> str | None:
    return forms.without_controls(value).strip() or None


Email = Annotated[EmailStr, AfterValidator(str.lower)]
# Optional one-line texts: blank means absent, whitespace is collapsed, length is bounded.
Name = Annotated[
    Annotated[str, Field(max_length=forms.MAX_NAME_CHARS), AfterValidator(_optional_line)] | None,
    BeforeValidator(_blank_is_none),
]
Category = Annotated[
    Annotated[str, Field(max_length=forms.MAX_CATEGORY_CHARS), AfterValidator(_optional_line)] | None,
    BeforeValidator(_blank_is_none),
]
OptionalSubject = Annotated[
    Annotated[str, Field(max_length=forms.MAX_SUBJECT_CHARS), AfterValidator(_optional_line)] | None,
    BeforeValidator(_blank_is_none),
]
Comment = Annotated[
    Annotated[str, Field(max_length=forms.MAX_CSAT_COMMENT_CHARS), AfterValidator(_optional_text)] | None,
    BeforeValidator(_blank_is_none),
]
Subject = Annotated[str, Field(max_length=forms.MAX_SUBJECT_CHARS), AfterValidator(_required_line)]


class FormModel(BaseModel):
    # A misspelt field name is an error, not a silently missing value.
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class PortalRequestBody(FormModel):
    email: Email = Field(description="Where the answer goes; the requester of the ticket")
    name: Name = Field(None, description="The requester's name")
    subject: Subject = Field(description="Becomes the ticket's title")
    description: Annotated[
        str, Field(max_length=forms.MAX_DESCRIPTION_CHARS), AfterValidator(_required_text)
    ] = Field(description="What the customer needs, as plain text")
    priority: Annotated[Priority | None, BeforeValidator(_blank_is_none), BeforeValidator(_upper)] = Field(
        None, description="LOW, MEDIUM, HIGH or URGENT (any case)"
    )
    ticket_type: Annotated[TicketType | None, BeforeValidator(_blank_is_none), BeforeValidator(_upper)] = (
        Field(None, alias="type", description="SUPPORT, CUSTOMER_REQUEST, BUG or FEATURE (any case)")
    )
    category: Category = Field(None, description="A category the customer chose")

    def submission(self) -> forms.PortalSubmission:
        return forms.PortalSubmission(
            sender=Person(email=self.email, name=self.name),
            subject=self.subject,
            description=self.description,
            priority=self.priority,
            ticket_type=self.ticket_type,
            category=self.category,
        )


class ChatLineBody(FormModel):
    author_role: Annotated[ChatAuthorRole, BeforeValidator(_lower)] = Field(
        description="customer, agent or bot"
    )
    author_name: Name = Field(None, description="Display name shown in the chat")
    text: Annotated[str, Field(max_length=forms.MAX_CHAT_LINE_CHARS), AfterValidator(_required_text)]
    sent_at: AwareDatetime = Field(description="RFC 3339 with a time zone; not in the future")

    def line(self) -> ChatLine:
        return ChatLine(
            author_role=self.author_role, author_name=self.author_name, text=self.text, sent_at=self.sent_at
        )


class ChatRequestBody(FormModel):
    email: Email = Field(description="The customer's email address; the requester of the ticket")
    name: Name = Field(None, description="The customer's name")
    subject: OptionalSubject = Field(
        None, description="Ticket title; defaults to the customer's first line, shortened"
    )
    transcript: list[ChatLineBody] = Field(
        min_length=1, max_length=forms.MAX_CHAT_LINES, description="The conversation, in order"
    )

    def submission(self) -> forms.ChatSubmission:
        return forms.ChatSubmission(
            sender=Person(email=self.email, name=self.name),
            subject=self.subject,
            transcript=tuple(line.line() for line in self.transcript),
        )


class AcceptedRequestResponse(BaseModel):
    request_id: str = Field(description="Follow it at GET /v1/inbound/requests/{request_id}")
    status: forms.RequestStatus = Field(description="pending until the ticket exists")


class RequestStatusResponse(BaseModel):
    request_id: str
    status: forms.RequestStatus = Field(description="pending, or created once the ticket exists")
    ref: str | None = Field(None, description="The ticket's ref, once created")


class CsatBody(FormModel):
    score: int = Field(ge=1, le=5, description="1 (very unhappy) to 5 (very happy)")
    comment: Comment = Field(None, description="Optional free text")


class CsatSubmittedResponse(BaseModel):
    status: str = Field(description="recorded, updated (a new answer replaced the last) or unchanged")
    ref: str = Field(description="The ticket the answer is about")
    score: int
    comment: str | None = None
