"""Administration API of the tickets service: routing rules, teams and agents.

Admins change them; managers may read them. Teams and agents are published on
ticketstream.directory.v1 (compacted, keyed by id).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status

from ticketstream.auth import AdminPrincipal, ManagerPrincipal, StaffPrincipal, api_key_area
from ticketstream.contracts.models import Priority
from ticketstream_tickets import canned, routing
from ticketstream_tickets.api import CannedStoreDep, TicketStoreDep, rule_error
from ticketstream_tickets.domain import DomainError
from ticketstream_tickets.models import (
    GlobalActivityEntry,
    GlobalActivityList,
)
from ticketstream_tickets.models_admin import (
    ADMINISTRATION_AREA,
    AgentIn,
    AgentOut,
    CannedResponseCreate,
    CannedResponseIn,
    CannedResponseOut,
    CustomerOut,
    CustomerUpdate,
    OrganisationIn,
    OrganisationOut,
    RoutingRuleCreate,
    RoutingRuleIn,
    RoutingRuleOut,
    TeamIn,
    TeamOut,
)
from ticketstream_tickets.store_canned import CannedNotFoundError
from ticketstream_tickets.store_customers import CustomerStore
from ticketstream_tickets.store_directory import AGENTS, TEAMS, DirectoryStore
from ticketstream_tickets.store_routing import RoutingStore, RuleNotFoundError

router = APIRouter(
    prefix="/v1", tags=["administration"], dependencies=[Depends(api_key_area(ADMINISTRATION_AREA))]
)


def get_routing_store(request: Request) -> RoutingStore:
    store: RoutingStore = request.app.state.routing_store
    return store


def get_directory_store(request: Request) -> DirectoryStore:
    store: DirectoryStore = request.app.state.directory_store
    return store


RoutingStoreDep = Annotated[RoutingStore, Depends(get_routing_store)]
DirectoryStoreDep = Annotated[DirectoryStore, Depends(get_directory_store)]


def _rule(rule_id: str, body: RoutingRuleIn) -> routing.RoutingRule:
    return routing.RoutingRule(
        id=rule_id,
        name=body.name,
        position=body.position,
        enabled=body.enabled,
        categories=tuple(body.categories),
        labels=tuple(label.lower() for label in body.labels),
        sender_domains=tuple(domain.lower().lstrip("@") for domain in body.sender_domains),
        keywords=tuple(body.keywords),
        team=body.team,
        assignee_id=body.assignee_id,
        strategy=routing.AssignStrategy(body.strategy),
        priority=Priority(body.priority) if body.priority else None,
        add_tags=tuple(tag.lower() for tag in body.add_tags),
    )


def _rule_out(rule: routing.RoutingRule) -> RoutingRuleOut:
    return RoutingRuleOut(
        id=rule.id,
        name=rule.name,
        position=rule.position,
        enabled=rule.enabled,
        categories=list(rule.categories),
        labels=list(rule.labels),
        sender_domains=list(rule.sender_domains),
        keywords=list(rule.keywords),
        team=rule.team,
        assignee_id=rule.assignee_id,
        strategy=rule.strategy.value,
        priority=rule.priority,
        add_tags=list(rule.add_tags),
    )


@router.get("/routing-rules", summary="Routing rules in the order they are tried")
async def list_rules(store: RoutingStoreDep, _: ManagerPrincipal) -> list[RoutingRuleOut]:
    return [_rule_out(rule) for rule in await store.rules()]


@router.post("/routing-rules", status_code=status.HTTP_201_CREATED, summary="Add a routing rule")
async def create_rule(body: RoutingRuleCreate, store: RoutingStoreDep, _: AdminPrincipal) -> RoutingRuleOut:
    try:
        rule = await store.create(_rule(body.id or f"rule-{uuid.uuid4().hex[:12]}", body))
    except DomainError as error:
        raise rule_error(error) from error
    return _rule_out(rule)


@router.get("/routing-rules/{rule_id}", summary="One routing rule")
async def get_rule(rule_id: str, store: RoutingStoreDep, _: ManagerPrincipal) -> RoutingRuleOut:
    rule = await store.get(rule_id)
    if rule is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no routing rule {rule_id}")
    return _rule_out(rule)


@router.put("/routing-rules/{rule_id}", summary="Replace a routing rule")
async def replace_rule(
    rule_id: str, body: RoutingRuleIn, store: RoutingStoreDep, _: AdminPrincipal
) -> RoutingRuleOut:
    try:
        return _rule_out(await store.replace(_rule(rule_id, body)))
    except RuleNotFoundError as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no routing rule {rule_id}") from error
    except DomainError as error:
        raise rule_error(error) from error


@router.delete("/routing-rules/{rule_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a rule")
async def delete_rule(rule_id: str, store: RoutingStoreDep, _: AdminPrincipal) -> Response:
    try:
        await store.delete(rule_id)
    except RuleNotFoundError as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no routing rule {rule_id}") from error
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/teams", summary="Teams")
async def list_teams(store: DirectoryStoreDep, _: ManagerPrincipal) -> list[TeamOut]:
    return [TeamOut.model_validate({**team, "id": team["_id"]}) for team in await store.list(TEAMS)]


@router.put("/teams/{team_id}", summary="Create or replace a team (its queue, members, leads, managers)")
async def put_team(team_id: str, body: TeamIn, store: DirectoryStoreDep, _: AdminPrincipal) -> TeamOut:
    if not routing_handle(team_id):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "a team id is letters, digits, '.', '_' or '-'"
        )
    team = await store.put_team(team_id, **body.model_dump(), now=datetime.now(UTC))
    return TeamOut.model_validate({**team, "id": team["_id"]})


@router.delete("/teams/{team_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a team")
async def delete_team(team_id: str, store: DirectoryStoreDep, _: AdminPrincipal) -> Response:
    if not await store.delete(TEAMS, team_id, now=datetime.now(UTC)):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no team {team_id}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/agents", summary="Agents")
async def list_agents(store: DirectoryStoreDep, _: ManagerPrincipal) -> list[AgentOut]:
    return [AgentOut.model_validate({**agent, "id": agent["_id"]}) for agent in await store.list(AGENTS)]


@router.put("/agents/{agent_id}", summary="Create or replace an agent (the id is the token's `sub`)")
async def put_agent(agent_id: str, body: AgentIn, store: DirectoryStoreDep, _: AdminPrincipal) -> AgentOut:
    if not routing_handle(agent_id):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "an agent id is letters, digits, '.', '_' or '-'"
        )
    agent = await store.put_agent(
        agent_id,
        email=str(body.email),
        name=body.name,
        role=body.role,
        teams=body.teams,
        now=datetime.now(UTC),
    )
    return AgentOut.model_validate({**agent, "id": agent["_id"]})


@router.delete("/agents/{agent_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete an agent")
async def delete_agent(agent_id: str, store: DirectoryStoreDep, _: AdminPrincipal) -> Response:
    if not await store.delete(AGENTS, agent_id, now=datetime.now(UTC)):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no agent {agent_id}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def routing_handle(value: str) -> bool:
    return routing.HANDLE_PATTERN.fullmatch(value) is not None


def _canned_out(document: dict[str, object]) -> CannedResponseOut:
    return CannedResponseOut.model_validate({**document, "id": document["_id"]})


@router.get(
    "/canned-responses", summary="Canned responses (placeholders listed at /v1/canned-responses/placeholders)"
)
async def list_canned(store: CannedStoreDep, _: StaffPrincipal) -> list[CannedResponseOut]:
    return [_canned_out(document) for document in await store.list()]


@router.get("/canned-responses/placeholders", summary="The placeholders a canned response may use")
async def canned_placeholders(_: StaffPrincipal) -> dict[str, str]:
    return {f"{{{{{name}}}}}": meaning for name, meaning in canned.PLACEHOLDERS.items()}


@router.post("/canned-responses", status_code=status.HTTP_201_CREATED, summary="Add a canned response")
async def create_canned(
    body: CannedResponseCreate, store: CannedStoreDep, principal: ManagerPrincipal
) -> CannedResponseOut:
    try:
        document = await store.create(
            body.id or f"canned-{uuid.uuid4().hex[:12]}",
            title=body.title,
            body=body.body,
            actor=principal.sub,
            now=datetime.now(UTC),
        )
    except DomainError as error:
        raise rule_error(error) from error
    return _canned_out(document)


@router.put("/canned-responses/{canned_id}", summary="Replace a canned response")
async def replace_canned(
    canned_id: str, body: CannedResponseIn, store: CannedStoreDep, principal: ManagerPrincipal
) -> CannedResponseOut:
    try:
        document = await store.replace(
            canned_id, title=body.title, body=body.body, actor=principal.sub, now=datetime.now(UTC)
        )
    except CannedNotFoundError as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no canned response {canned_id}") from error
    except DomainError as error:
        raise rule_error(error) from error
    return _canned_out(document)


@router.delete("/canned-responses/{canned_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete one")
async def delete_canned(canned_id: str, store: CannedStoreDep, _: ManagerPrincipal) -> Response:
    try:
        await store.delete(canned_id)
    except CannedNotFoundError as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no canned response {canned_id}") from error
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def get_customer_store(request: Request) -> CustomerStore:
    store: CustomerStore = request.app.state.customer_store
    return store


CustomerStoreDep = Annotated[CustomerStore, Depends(get_customer_store)]


def _customer_out(document: dict[str, object]) -> CustomerOut:
    return CustomerOut.model_validate({**document, "id": document["_id"]})


@router.get("/customers", summary="Customers, by email or organisation")
async def list_customers(
    store: CustomerStoreDep,
    _: StaffPrincipal,
    email: Annotated[str | None, Query(max_length=320)] = None,
    organisation: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[CustomerOut]:
    documents = await store.list_customers(email=email, organisation_id=organisation, limit=limit)
    return [_customer_out(document) for document in documents]


@router.get("/customers/{customer_id}", summary="One customer")
async def get_customer(customer_id: str, store: CustomerStoreDep, _: StaffPrincipal) -> CustomerOut:
    document = await store.get_customer(customer_id)
    if document is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no customer {customer_id}")
    return _customer_out(document)


@router.patch("/customers/{customer_id}", summary="Change a customer's name, tier or organisation")
async def update_customer(
    customer_id: str, body: CustomerUpdate, store: CustomerStoreDep, _: ManagerPrincipal
) -> CustomerOut:
    try:
        document = await store.update_customer(
            customer_id, body.model_dump(exclude_unset=True), now=datetime.now(UTC)
        )
    except DomainError as error:
        raise rule_error(error) from error
    if document is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no customer {customer_id}")
    return _customer_out(document)


@router.get("/organisations", summary="Organisations")
async def list_organisations(store: CustomerStoreDep, _: StaffPrincipal) -> list[OrganisationOut]:
    return [
        OrganisationOut.model_validate({**document, "id": document["_id"]})
        for document in await store.list_organisations()
    ]


@router.put("/organisations/{organisation_id}", summary="Create or replace an organisation and its domains")
async def put_organisation(
    organisation_id: str, body: OrganisationIn, store: CustomerStoreDep, _: AdminPrincipal
) -> OrganisationOut:
    if not routing_handle(organisation_id):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "an organisation id is letters, digits, '.', '_' or '-'"
        )
    try:
        document = await store.put_organisation(
            organisation_id, name=body.name, domains=body.domains, tier=body.tier, now=datetime.now(UTC)
        )
    except DomainError as error:
        raise rule_error(error) from error
    return OrganisationOut.model_validate({**document, "id": document["_id"]})


@router.get("/activity", summary="Changes to every ticket, newest first (managers and admins)")
async def activity_log(
    store: TicketStoreDep,
    _: ManagerPrincipal,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    actor: Annotated[str | None, Query(max_length=100)] = None,
    action: Annotated[str | None, Query(max_length=64, description="e.g. ticket.status_changed")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> GlobalActivityList:
    entries = await store.activity_log(start=start, end=end, actor=actor, action=action, limit=limit)
    return GlobalActivityList(items=[GlobalActivityEntry.model_validate(entry) for entry in entries])
