"""HTTP models of the administration routes of the tickets service: routing rules, teams,
agents, canned responses, organisations, customers, the ticket vocabulary and API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from ticketstream.contracts.models import Priority
from ticketstream_tickets.vocabulary import FieldType

Handle = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]


class RoutingRuleIn(BaseModel):
    """Conditions (each given list must match one of its values) and actions of a routing rule."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    position: int = Field(100, ge=0, le=100_000, description="Lower runs first; the first match decides")
    enabled: bool = True
    categories: list[str] = Field(default_factory=list, max_length=100)
    labels: list[str] = Field(default_factory=list, max_length=100)
    sender_domains: list[str] = Field(default_factory=list, max_length=100)
    keywords: list[Annotated[str, StringConstraints(min_length=2, max_length=100)]] = Field(
        default_factory=list, max_length=100
    )
    team: Handle | None = None
    assignee_id: Handle | None = None
    strategy: Literal["none", "round_robin", "least_loaded"] = "none"
    priority: Priority | None = Field(None, description="Raises the priority to this (never lowers it)")
    add_tags: list[str] = Field(default_factory=list, max_length=20)


class RoutingRuleOut(RoutingRuleIn):
    model_config = ConfigDict(extra="ignore")  # built from stored documents

    id: str


class RoutingRuleCreate(RoutingRuleIn):
    id: Handle | None = Field(None, description="Defaults to a generated id")


class TeamIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    member_ids: list[Handle] = Field(default_factory=list, max_length=1000)
    lead_ids: list[Handle] = Field(default_factory=list, max_length=100)
    manager_ids: list[Handle] = Field(default_factory=list, max_length=100)


class TeamOut(TeamIn):
    model_config = ConfigDict(extra="ignore")  # built from stored documents

    id: str


class AgentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    name: str = Field(min_length=1, max_length=200)
    role: Literal["agent", "team_lead", "manager", "admin"] = "agent"
    teams: list[Handle] = Field(default_factory=list, max_length=100)


class AgentOut(AgentIn):
    model_config = ConfigDict(extra="ignore")  # built from stored documents

    id: str


class CannedResponseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=50_000, description="Text with {{placeholders}}")


class CannedResponseCreate(CannedResponseIn):
    id: Handle | None = Field(None, description="Defaults to a generated id")


class CannedResponseOut(CannedResponseIn):
    model_config = ConfigDict(extra="ignore")  # built from stored documents

    id: str
    updated_by: str | None = None
    updated_at: datetime | None = None


class OrganisationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    domains: list[Annotated[str, StringConstraints(min_length=3, max_length=253)]] = Field(
        default_factory=list, max_length=50, description="Email domains whose customers belong here"
    )
    tier: str | None = Field(
        None, max_length=50, description="Customer tier, e.g. enterprise (SLA overrides)"
    )


class OrganisationOut(OrganisationIn):
    model_config = ConfigDict(extra="ignore")  # built from stored documents

    id: str


class CustomerOut(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    email: str
    name: str | None = None
    organisation_id: str | None = None
    tier: str | None = None
    sees_organisation_tickets: bool = False
    created_at: datetime


class CustomerUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    tier: str | None = Field(None, max_length=50)
    organisation_id: str | None = Field(None, max_length=64)
    sees_organisation_tickets: bool | None = Field(
        None, description="In the portal, also see (and answer) every ticket of the customer's organisation"
    )


class CustomFieldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str = Field(min_length=1, max_length=100, description="What agents see")
    type: FieldType
    options: list[Annotated[str, StringConstraints(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=200, description="The choices of a select or multi_select field"
    )
    required_to_resolve: bool = Field(False, description="A ticket cannot be resolved while this is empty")


class CustomFieldOut(CustomFieldIn):
    key: str


class ManagedListIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    values: list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]] = (
        Field(max_length=1_000)
    )
    restricted: bool = Field(
        False, description="Only these values are accepted; otherwise they are suggestions"
    )


class ManagedListOut(ManagedListIn):
    pass


# The API key areas of the routers (api_key_area) and the scopes they make.
TICKETS_AREA = "tickets"
ADMINISTRATION_AREA = "administration"
ApiKeyScope = Literal["tickets:read", "tickets:write", "administration:read", "administration:write"]


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, description="Which integration uses it")
    role: Literal["agent", "team_lead", "manager", "admin"] = Field(
        "agent", description="The key sees and may do what a person of this role may"
    )
    teams: list[Annotated[str, StringConstraints(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=50
    )
    scopes: list[ApiKeyScope] = Field(
        min_length=1, description="Areas and access: tickets or administration routes, read (GET) or write"
    )
    expires_at: AwareDatetime | None = Field(
        None, description="After this the key is refused; none: until revoked"
    )


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    name: str
    role: str
    teams: list[str]
    scopes: list[str]
    created_by: str
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The key itself: shown once, store it now (tsk_…)")
