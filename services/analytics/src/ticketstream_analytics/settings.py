"""Settings of the analytics service."""

from typing import ClassVar

from pydantic import Field

from ticketstream.settings import PlatformSettings


class Settings(PlatformSettings):
    service_name: ClassVar[str] = "analytics"

    queue_stream_poll_ms: int = Field(
        500, ge=20, le=60_000, description="How often open dashboard streams check the database for changes"
    )
    queue_stream_refresh_seconds: float = Field(
        30.0,
        ge=1,
        le=3600,
        description="Recompute the streamed dashboard at least this often ('at risk' ages)",
    )
    queue_stream_heartbeat_seconds: float = Field(
        15.0, gt=0, le=300, description="Heartbeat comment on a dashboard stream after this much silence"
    )
    analytics_batch_records: int = Field(
        1000, ge=1, le=10_000, description="Most events folded into one bulk write of the ticket facts"
    )
    analytics_rebuild_idle_ms: int = Field(
        1500, ge=100, description="A rebuild ends once past the captured end offsets and idle this long"
    )
    analytics_refresh_ms: int = Field(
        1000, ge=50, description="Reports' in-memory facts poll the database for changes this often"
    )
    analytics_refresh_overlap_ms: int = Field(
        10_000,
        ge=0,
        description="Each poll re-reads facts changed this long before the previous poll began",
    )
