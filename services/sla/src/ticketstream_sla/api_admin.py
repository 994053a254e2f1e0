"""HTTP edge of SLA administration: policies (versioned) and business-hours calendars.
Anyone on staff may read them; only administrators change them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, NoReturn

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status

from ticketstream.auth import AdminPrincipal, StaffPrincipal
from ticketstream_sla.business_hours import InvalidCalendarError, Shift
from ticketstream_sla.calendars import CalendarSpec, wall_time
from ticketstream_sla.models import (
    CalendarBody,
    CalendarView,
    NewCalendarBody,
    NewPolicyBody,
    PolicyBody,
    PolicyChangeView,
    PolicyView,
    ShiftBody,
)
from ticketstream_sla.policies import Policy, PolicyError
from ticketstream_sla.store import SlaStore
from ticketstream_sla.store_admin import AdminStore, AlreadyExistsError, InUseError, NotFoundError

router = APIRouter(prefix="/v1", tags=["sla administration"])


def get_admin_store(request: Request) -> AdminStore:
    store: AdminStore = request.app.state.admin_store
    return store


def get_sla_store(request: Request) -> SlaStore:
    store: SlaStore = request.app.state.sla_store
    return store


AdminStoreDep = Annotated[AdminStore, Depends(get_admin_store)]
SlaStoreDep = Annotated[SlaStore, Depends(get_sla_store)]


def _refuse(error: Exception) -> NoReturn:
    """The store's refusals as HTTP answers with their reasons."""
    if isinstance(error, PolicyError):
        detail = {"message": "the policy is not valid", "details": error.problems}
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail) from error
    if isinstance(error, InvalidCalendarError):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from error
    if isinstance(error, AlreadyExistsError | InUseError):
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from error
    if isinstance(error, NotFoundError):
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from error
    raise error


# --- policies --------------------------------------------------------------------------------


def _policy(policy_id: str, body: PolicyBody) -> Policy:
    fields = body.model_dump()
    fields.pop("id", None)
    return Policy(id=policy_id, **{**fields, "pause_statuses": frozenset(body.pause_statuses)})


def _policy_view(policy: Policy) -> PolicyView:
    return PolicyView(
        id=policy.id,
        version=policy.version,
        name=policy.name,
        priority=policy.priority,
        first_response_seconds=policy.first_response_seconds,
        resolution_seconds=policy.resolution_seconds,
        next_response_seconds=policy.next_response_seconds,
        customer_tier=policy.customer_tier,
        category=policy.category,
        team=policy.team,
        calendar_id=policy.calendar_id,
        warning_fraction=policy.warning_fraction,
        pause_statuses=sorted(policy.pause_statuses),
        enabled=policy.enabled,
    )


@router.get("/policies", summary="SLA policies, most urgent first")
async def list_policies(store: AdminStoreDep, _: StaffPrincipal) -> list[PolicyView]:
    policies = sorted(await store.policies(), key=lambda p: (p.first_response_seconds, p.id))
    return [_policy_view(policy) for policy in policies]


@router.get("/policies/{policy_id}", summary="One SLA policy")
async def get_policy(policy_id: str, store: AdminStoreDep, _: StaffPrincipal) -> PolicyView:
    policy = await store.policy(policy_id)
    if policy is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no policy {policy_id}")
    return _policy_view(policy)


@router.get("/policies/{policy_id}/versions", summary="Every saved version of a policy, oldest first")
async def policy_versions(policy_id: str, store: AdminStoreDep, _: StaffPrincipal) -> list[PolicyView]:
    versions = await store.policy_versions(policy_id)
    if not versions:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no policy {policy_id}")
    return [_policy_view(policy) for policy in versions]


@router.post("/policies", status_code=status.HTTP_201_CREATED, summary="Create a policy (version 1)")
async def create_policy(body: NewPolicyBody, store: AdminStoreDep, _: AdminPrincipal) -> PolicyView:
    try:
        return _policy_view(await store.save_policy(_policy(body.id, body), create=True))
    except (PolicyError, AlreadyExistsError) as error:
        _refuse(error)


@router.put("/policies/{policy_id}", summary="Change a policy: a new version for new clocks")
async def change_policy(
    policy_id: str,
    body: PolicyBody,
    store: AdminStoreDep,
    clocks: SlaStoreDep,
    _: AdminPrincipal,
    apply_to_running: Annotated[
        bool, Query(description="Also move running and paused clocks to the new targets")
    ] = False,
) -> PolicyChangeView:
    try:
        saved = await store.save_policy(_policy(policy_id, body), create=False)
    except (PolicyError, NotFoundError) as error:
        _refuse(error)
    moved = await clocks.apply_policy_to_running(saved, now=datetime.now(UTC)) if apply_to_running else 0
    return PolicyChangeView(policy=_policy_view(saved), retargeted_clocks=moved)


# --- calendars -------------------------------------------------------------------------------


def _spec(calendar_id: str, body: CalendarBody) -> CalendarSpec:
    try:
        holidays = frozenset(date.fromisoformat(day) for day in body.holidays)
    except ValueError as error:
        raise InvalidCalendarError(f"holidays are dates such as 2026-12-25: {error}") from error
    return CalendarSpec(
        id=calendar_id,
        name=body.name,
        time_zone=body.time_zone,
        twenty_four_seven=body.twenty_four_seven,
        shifts=tuple(
            Shift(shift.weekday, wall_time(shift.start), wall_time(shift.end)) for shift in body.shifts
        ),
        holidays=holidays,
        country=body.country.upper() if body.country else None,
        subdivision=body.subdivision,
    )


def _calendar_view(spec: CalendarSpec) -> CalendarView:
    return CalendarView(
        id=spec.id,
        version=spec.version,
        name=spec.name,
        time_zone=spec.time_zone,
        twenty_four_seven=spec.twenty_four_seven,
        shifts=[
            ShiftBody(
                weekday=shift.weekday,
                start=shift.start.isoformat("minutes"),
                end=shift.end.isoformat("minutes"),
            )
            for shift in spec.shifts
        ],
        holidays=sorted(day.isoformat() for day in spec.holidays),
        country=spec.country,
        subdivision=spec.subdivision,
    )


@router.get("/calendars", summary="Business-hours calendars (24x7 is built in and not listed)")
async def list_calendars(store: AdminStoreDep, _: StaffPrincipal) -> list[CalendarView]:
    return [_calendar_view(spec) for spec in await store.calendar_specs()]


@router.get("/calendars/{calendar_id}", summary="One business-hours calendar")
async def get_calendar(calendar_id: str, store: AdminStoreDep, _: StaffPrincipal) -> CalendarView:
    spec = await store.calendar_spec(calendar_id)
    if spec is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no calendar {calendar_id}")
    return _calendar_view(spec)


@router.post("/calendars", status_code=status.HTTP_201_CREATED, summary="Create a business-hours calendar")
async def create_calendar(body: NewCalendarBody, store: AdminStoreDep, _: AdminPrincipal) -> CalendarView:
    try:
        return _calendar_view(await store.save_calendar(_spec(body.id, body), create=True))
    except (InvalidCalendarError, AlreadyExistsError) as error:
        _refuse(error)


@router.put("/calendars/{calendar_id}", summary="Change a calendar; running clocks are rescheduled on it")
async def change_calendar(
    calendar_id: str, body: CalendarBody, store: AdminStoreDep, clocks: SlaStoreDep, _: AdminPrincipal
) -> CalendarView:
    previous = await store.calendar(calendar_id)
    try:
        saved = await store.save_calendar(_spec(calendar_id, body), create=False)
    except (InvalidCalendarError, NotFoundError) as error:
        _refuse(error)
    await clocks.apply_calendar_to_running(calendar_id, previous=previous, now=datetime.now(UTC))
    return _calendar_view(saved)


@router.delete(
    "/calendars/{calendar_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete an unused calendar"
)
async def delete_calendar(calendar_id: str, store: AdminStoreDep, _: AdminPrincipal) -> Response:
    try:
        await store.delete_calendar(calendar_id)
    except (InUseError, NotFoundError) as error:
        _refuse(error)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
