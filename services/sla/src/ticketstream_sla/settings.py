"""Settings of the sla service."""

from datetime import timedelta
from typing import ClassVar

from pydantic import Field

from ticketstream.settings import PlatformSettings
from ticketstream_sla.waiting import QuietPeriods

DAY_SECONDS = 24 * 3600


class Settings(PlatformSettings):
    service_name: ClassVar[str] = "sla"

    sla_timer_shards: int = Field(
        16, ge=1, le=1024, description="Timer shards leased among sla replicas; keep it equal on all"
    )
    sla_timer_lease_seconds: float = Field(
        5.0, ge=1, le=300, description="A dead replica's timers move to another one after this"
    )
    sla_timer_poll_ms: int = Field(
        500, ge=10, le=60_000, description="How often leases are renewed and due timers loaded"
    )
    sla_timer_look_ahead_seconds: float = Field(
        10.0, ge=1, le=3600, description="Timers due this soon are held in memory and fire on time"
    )
    sla_timer_batch: int = Field(
        200, ge=1, le=5000, description="Most timers fired in one transaction when many are due at once"
    )
    sla_waiting_reminder_seconds: int = Field(
        DAY_SECONDS,
        ge=0,
        description="Quiet time waiting on the customer before the check-in is due; 0 turns it off",
    )
    sla_waiting_close_seconds: int = Field(
        DAY_SECONDS, ge=0, description="Further quiet time after the check-in before auto-close is due"
    )

    @property
    def quiet_periods(self) -> QuietPeriods:
        return QuietPeriods(
            reminder_after=timedelta(seconds=self.sla_waiting_reminder_seconds),
            close_after=timedelta(seconds=self.sla_waiting_close_seconds),
        )
