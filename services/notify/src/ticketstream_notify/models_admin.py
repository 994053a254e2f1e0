"""HTTP models of notify's admin routes (templates, matrix rows) and staff preferences."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from ticketstream_notify.matrix import Audience, ChannelMode

MAX_TEMPLATE_CHARS = 50_000


class TemplateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1, max_length=500, description="Jinja2 template of the subject line")
    text: str = Field(min_length=1, max_length=MAX_TEMPLATE_CHARS, description="Jinja2 template, plain text")
    html: str = Field(
        min_length=1,
        max_length=MAX_TEMPLATE_CHARS,
        description="Jinja2 template of the HTML body (autoescaped)",
    )


class TemplateView(BaseModel):
    key: str
    audience: Audience
    variables: list[str] = Field(description="What the template may use")
    customized: bool = Field(description="An admin's version is in force (else the default)")
    subject: str
    text: str
    html: str
    updated_by: str | None = None
    updated_at: datetime | None = None


class TemplateList(BaseModel):
    items: list[TemplateView]


class PreviewRequest(BaseModel):
    """Preview a draft (subject/text/html), or the template in force when none is given."""

    model_config = ConfigDict(extra="forbid")

    template: TemplateBody | None = None
    variables: dict[str, str] = Field(
        default_factory=dict, description="Values that replace the sample data, by variable name"
    )


class PreviewView(BaseModel):
    key: str
    subject: str
    text: str
    html: str


class RuleView(BaseModel):
    kind: str
    audience: Audience
    description: str
    enabled: bool
    in_app: ChannelMode
    email: ChannelMode


class RuleList(BaseModel):
    items: list[RuleView]


class RuleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(min_length=1, max_length=64)
    enabled: bool | None = None
    in_app: ChannelMode | None = None
    email: ChannelMode | None = None


class RuleUpdates(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[RuleUpdate] = Field(min_length=1, max_length=100)


class ChannelChoiceBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    in_app: bool | None = Field(None, description="true/false; null follows the row's default")
    email: bool | None = None


class PreferenceView(BaseModel):
    kind: str
    description: str
    in_app: bool = Field(description="Whether the caller gets it in-app, all things considered")
    email: bool = Field(description="Whether the caller gets it by email (when the directory has an address)")
    in_app_mode: ChannelMode
    email_mode: ChannelMode
    choice: ChannelChoiceBody


class PreferenceList(BaseModel):
    items: list[PreferenceView]


class PreferencesUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kinds: dict[str, ChannelChoiceBody] = Field(max_length=100)
