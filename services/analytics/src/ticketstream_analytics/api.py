"""Reports API of analytics (staff tokens). JSON by default, CSV with `Accept: text/csv`."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from pydantic import BaseModel

from ticketstream.auth import StaffPrincipal
from ticketstream.contracts.models import Priority, Source
from ticketstream_analytics import models, reports
from ticketstream_analytics.domain import Interval
from ticketstream_analytics.reader import FactReader
from ticketstream_analytics.readmodel import FactIndex
from ticketstream_analytics.reports import TicketFact
from ticketstream_analytics.store import AnalyticsStore

router = APIRouter(prefix="/v1/reports", tags=["reports"])

DEFAULT_RANGE_DAYS = 30
MAX_RANGE_DAYS = 3 * 366
CSV_MEDIA_TYPE = "text/csv"
# Far enough from date's limits that a day's start in any time zone still exists.
EARLIEST_DAY = date(1970, 1, 1)
LATEST_DAY = date(9000, 12, 31)
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def get_analytics_store(request: Request) -> AnalyticsStore:
    store: AnalyticsStore = request.app.state.analytics_store
    return store


AnalyticsStoreDep = Annotated[AnalyticsStore, Depends(get_analytics_store)]


class FactSource:
    """The facts a report reads: the in-memory read model once loaded, else the database."""

    def __init__(self, store: AnalyticsStore, reader: FactReader | None) -> None:
        self._store = store
        self._reader = reader

    async def facts(
        self,
        *,
        created_from: datetime | None,
        created_before: datetime,
        open_at: datetime | None = None,
        filters: dict[str, str],
    ) -> list[TicketFact]:
        index = await self.index()
        if index is not None:
            return index.facts(
                created_from=created_from, created_before=created_before, open_at=open_at, filters=filters
            )
        return await self._store.facts(
            created_from=created_from, created_before=created_before, open_at=open_at, filters=filters
        )

    async def index(self) -> FactIndex | None:
        return None if self._reader is None else await self._reader.current()


def get_fact_source(request: Request, store: AnalyticsStoreDep) -> FactSource:
    return FactSource(store, getattr(request.app.state, "fact_reader", None))


FactSourceDep = Annotated[FactSource, Depends(get_fact_source)]


def _unprocessable(message: str) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, message)


@dataclass(frozen=True)
class ReportFilter:
    first: date
    last: date
    zone: ZoneInfo
    fields: dict[str, str]

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time.min, tzinfo=self.zone).astimezone(UTC)

    @property
    def end(self) -> datetime:
        """The instant after the last local day."""
        return datetime.combine(self.last + timedelta(days=1), time.min, tzinfo=self.zone).astimezone(UTC)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def scope(self) -> dict[str, Any]:
        return {"start": self.first, "end": self.last, "tz": self.zone.key}


def report_filter(
    start: Annotated[
        date | None, Query(alias="from", description="First local day (default: 30 days ago)")
    ] = None,
    end: Annotated[date | None, Query(alias="to", description="Last local day (default: today)")] = None,
    tz: Annotated[str, Query(max_length=64, description="IANA time zone of the days")] = "UTC",
    team: Annotated[str | None, Query(max_length=200)] = None,
    agent: Annotated[str | None, Query(max_length=200, description="Assigned agent (user id)")] = None,
    priority: Priority | None = None,
    category: Annotated[str | None, Query(max_length=200)] = None,
    tier: Annotated[str | None, Query(max_length=64, description="Customer tier")] = None,
    source: Annotated[Source | None, Query(description="Channel the ticket came in by")] = None,
) -> ReportFilter:
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError) as error:  # OSError: a zone directory, "Europe"
        raise _unprocessable(f"unknown time zone {tz!r}; use an IANA name such as Europe/Berlin") from error
    last = end or datetime.now(zone).date()
    first = start or last - timedelta(days=DEFAULT_RANGE_DAYS - 1)
    if first < EARLIEST_DAY or last > LATEST_DAY:
        raise _unprocessable(f"dates must lie between {EARLIEST_DAY} and {LATEST_DAY}")
    if first > last:
        raise _unprocessable("'from' must not be after 'to'")
    if (last - first).days > MAX_RANGE_DAYS:
        raise _unprocessable(f"the range may span at most {MAX_RANGE_DAYS} days")
    named = {
        "team": team,
        "assignees": agent,
        "priority": priority.value if priority else None,
        "category": category,
        "tier": tier,
        "source": source.value if source else None,
    }
    return ReportFilter(first, last, zone, {k: v for k, v in named.items() if v is not None})


FilterDep = Annotated[ReportFilter, Depends(report_filter)]


async def _facts(store: FactSource, scope: ReportFilter) -> list[TicketFact]:
    return await store.facts(created_from=scope.start, created_before=scope.end, filters=scope.fields)


def _cell(value: Any) -> Any:
    """A text cell a spreadsheet would read as a formula (a customer's CSAT comment, say) is
    written with a leading apostrophe, so it stays text."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _flatten(prefix: str, value: Any, row: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), inner, row)
    elif isinstance(value, list):
        row[prefix] = _cell(";".join(str(item) for item in value))
    else:
        row[prefix] = "" if value is None else _cell(value)


def csv_of(report: BaseModel) -> str:
    """One row per entry of each list in the report (its `section` column names the list) and
    one `summary` row with the report's single values."""
    data = report.model_dump(mode="json")
    summary: dict[str, Any] = {"section": "summary"}
    rows: list[dict[str, Any]] = []
    for name, value in data.items():
        if isinstance(value, list) and all(isinstance(item, dict) for item in value):
            for item in value:
                row: dict[str, Any] = {"section": name}
                _flatten("", item, row)
                rows.append(row)
        else:
            _flatten(name, value, summary)
    rows.insert(0, summary)
    columns = list(dict.fromkeys(column for row in rows for column in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def respond(request: Request, report: BaseModel) -> Response:
    if CSV_MEDIA_TYPE in request.headers.get("accept", ""):
        return Response(csv_of(report), media_type=f"{CSV_MEDIA_TYPE}; charset=utf-8")
    return Response(report.model_dump_json(), media_type="application/json")


CSV_RESPONSE: dict[int | str, dict[str, Any]] = {200: {"content": {CSV_MEDIA_TYPE: {}}}}


@router.get(
    "/volume", summary="Tickets created per day, week or month, and per channel", responses=CSV_RESPONSE
)
async def volume(
    request: Request,
    store: FactSourceDep,
    _: StaffPrincipal,
    scope: FilterDep,
    interval: Interval = Interval.DAY,
) -> models.VolumeReport:
    body = reports.volume_report(await _facts(store, scope), interval=interval, zone=scope.zone)
    report = models.VolumeReport(interval=interval.value, **scope.scope(), **body)
    return respond(request, report)  # type: ignore[return-value]


@router.get(
    "/sla", summary="First-response and resolution rates, met vs missed, breaches", responses=CSV_RESPONSE
)
async def sla(
    request: Request, store: FactSourceDep, _: StaffPrincipal, scope: FilterDep
) -> models.SlaReport:
    report = models.SlaReport(**scope.scope(), **reports.sla_report(await _facts(store, scope)))
    return respond(request, report)  # type: ignore[return-value]


@router.get(
    "/times", summary="First-response and resolution times: average, p50, p90", responses=CSV_RESPONSE
)
async def times(
    request: Request, store: FactSourceDep, _: StaffPrincipal, scope: FilterDep
) -> models.TimesReport:
    report = models.TimesReport(**scope.scope(), **reports.times_report(await _facts(store, scope)))
    return respond(request, report)  # type: ignore[return-value]


@router.get("/backlog", summary="Open tickets at the end of each day", responses=CSV_RESPONSE)
async def backlog(
    request: Request, store: FactSourceDep, _: StaffPrincipal, scope: FilterDep
) -> models.BacklogReport:
    index = await store.index()
    counters = index.backlog_counters(scope.fields) if index is not None else None
    if counters is not None:  # sorted event times of the matching tickets: binary searches per day
        body = reports.backlog_points(*counters, scope.first, scope.last, scope.zone)
    else:
        facts = await store.facts(
            created_from=None, created_before=scope.end, open_at=scope.start, filters=scope.fields
        )
        body = reports.backlog_report(facts, first=scope.first, last=scope.last, zone=scope.zone)
    return respond(request, models.BacklogReport(**scope.scope(), **body))  # type: ignore[return-value]


@router.get(
    "/agents",
    summary="Per agent: handled, per day, response time, resolution rate, CSAT",
    responses=CSV_RESPONSE,
)
async def agents(
    request: Request, store: FactSourceDep, _: StaffPrincipal, scope: FilterDep
) -> models.AgentsReport:
    body = reports.agents_report(await _facts(store, scope), days=scope.days)
    return respond(request, models.AgentsReport(**scope.scope(), **body))  # type: ignore[return-value]


@router.get("/csat", summary="CSAT average per agent and category, monthly trend", responses=CSV_RESPONSE)
async def csat(
    request: Request, store: FactSourceDep, _: StaffPrincipal, scope: FilterDep
) -> models.CsatReport:
    body = reports.csat_report(await _facts(store, scope), zone=scope.zone)
    return respond(request, models.CsatReport(**scope.scope(), **body))  # type: ignore[return-value]


@router.get("/csat/detractors", summary="Tickets rated 1 or 2, for manager review", responses=CSV_RESPONSE)
async def csat_detractors(
    request: Request, store: FactSourceDep, _: StaffPrincipal, scope: FilterDep
) -> models.DetractorsReport:
    items = [
        models.Detractor(
            ticket_id=fact.ticket_id,
            ref=fact.ref,
            score=fact.csat_score or 0,
            comment=fact.csat_comment,
            agents=list(fact.assignees),
            team=fact.team,
            category=fact.category,
            created_at=fact.created_at,
        )
        for fact in reports.detractors(await _facts(store, scope))
    ]
    return respond(request, models.DetractorsReport(**scope.scope(), items=items))  # type: ignore[return-value]


@router.get(
    "/notes-ratio", summary="Internal notes to public replies, per team and agent", responses=CSV_RESPONSE
)
async def notes_ratio(
    request: Request, store: FactSourceDep, _: StaffPrincipal, scope: FilterDep
) -> models.NotesRatioReport:
    body = reports.notes_ratio_report(await _facts(store, scope))
    return respond(request, models.NotesRatioReport(**scope.scope(), **body))  # type: ignore[return-value]
