"""HTTP models of the analytics service."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field


class VolumeBucket(BaseModel):
    start: date = Field(description="First day of the bucket (UTC)")
    created: int = Field(description="Tickets created in the bucket")
    by_source: dict[str, int] = Field(default_factory=dict)


class VolumeReport(BaseModel):
    interval: str
    start: date
    end: date
    total: int
    buckets: list[VolumeBucket]
