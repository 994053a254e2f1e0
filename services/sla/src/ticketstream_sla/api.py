"""HTTP edge of the sla service (staff tokens)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status

from ticketstream.auth import StaffPrincipal
from ticketstream_sla import domain
from ticketstream_sla.models import ClockView, PolicyView, TargetView
from ticketstream_sla.store import SlaStore

router = APIRouter(prefix="/v1", tags=["sla"])


def get_sla_store(request: Request) -> SlaStore:
    store: SlaStore = request.app.state.sla_store
    return store


SlaStoreDep = Annotated[SlaStore, Depends(get_sla_store)]


@router.get("/clocks/{ref}", summary="SLA targets of a ticket (ref or id)")
async def get_clocks(ref: str, store: SlaStoreDep, _: StaffPrincipal) -> ClockView:
    clocks = await store.clocks_of(ref)
    if not clocks:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no SLA clock for {ref}")
    now = datetime.now(UTC)
    return ClockView(
        ticket_id=clocks[0].ticket_id,
        ref=clocks[0].ref,
        priority=clocks[0].priority.value,
        targets=[
            TargetView(
                target=clock.target.value,
                state=clock.state.value,
                status=domain.agent_status(clock, now=now).value,
                policy_id=clock.policy_id,
                started_at=clock.started_at,
                due_at=clock.due_at,
                target_seconds=clock.target_seconds,
                remaining_seconds=domain.remaining_seconds(clock, now=now),
            )
            for clock in clocks
        ],
    )


@router.get("/policies", summary="SLA policies")
async def list_policies(store: SlaStoreDep, _: StaffPrincipal) -> list[PolicyView]:
    return [
        PolicyView(
            id=policy.id,
            name=policy.name,
            priority=policy.priority.value,
            first_response_seconds=int(policy.first_response.total_seconds()),
            resolution_seconds=int(policy.resolution.total_seconds()) if policy.resolution else None,
        )
        for policy in sorted(await store.policies(), key=lambda p: p.first_response)
    ]
