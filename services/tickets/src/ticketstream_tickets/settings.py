"""Settings of the tickets service."""

from typing import ClassVar

from pydantic import Field

from ticketstream.settings import PlatformSettings


class Settings(PlatformSettings):
    service_name: ClassVar[str] = "tickets"

    default_team: str = Field(
        "support", min_length=1, description="Team queue of new tickets that no rule routes elsewhere"
    )
