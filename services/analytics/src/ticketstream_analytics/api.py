"""Reports API of analytics (staff tokens)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status

from ticketstream.auth import StaffPrincipal
from ticketstream_analytics.domain import Interval, bucket_start
from ticketstream_analytics.models import VolumeBucket, VolumeReport
from ticketstream_analytics.store import AnalyticsStore

router = APIRouter(prefix="/v1/reports", tags=["reports"])

DEFAULT_RANGE_DAYS = 30
MAX_RANGE_DAYS = 3 * 366


def get_analytics_store(request: Request) -> AnalyticsStore:
    store: AnalyticsStore = request.app.state.analytics_store
    return store


AnalyticsStoreDep = Annotated[AnalyticsStore, Depends(get_analytics_store)]


@router.get("/volume", summary="Tickets created per day, week or month (UTC)")
async def volume(
    store: AnalyticsStoreDep,
    _: StaffPrincipal,
    interval: Interval = Interval.DAY,
    start: Annotated[date | None, Query(alias="from", description="First day, default 30 days ago")] = None,
    end: Annotated[date | None, Query(alias="to", description="Last day, default today")] = None,
) -> VolumeReport:
    last = end or datetime.now(UTC).date()
    first = start or last - timedelta(days=DEFAULT_RANGE_DAYS - 1)
    if first > last:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "'from' must not be after 'to'")
    if (last - first).days > MAX_RANGE_DAYS:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"the range may span at most {MAX_RANGE_DAYS} days"
        )
    created: Counter[date] = Counter()
    sources: dict[date, Counter[str]] = {}
    for day, count, by_source in await store.daily_created(start=first, end=last):
        bucket = bucket_start(day, interval)
        created[bucket] += count
        sources.setdefault(bucket, Counter()).update(by_source)
    buckets = [
        VolumeBucket(start=bucket, created=created[bucket], by_source=dict(sources[bucket]))
        for bucket in sorted(created)
    ]
    return VolumeReport(
        interval=interval.value, start=first, end=last, total=sum(created.values()), buckets=buckets
    )
