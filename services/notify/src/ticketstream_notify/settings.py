"""Settings of the notify service."""

from typing import ClassVar

from pydantic import Field

from ticketstream.settings import PlatformSettings


class Settings(PlatformSettings):
    service_name: ClassVar[str] = "notify"

    brand_name: str = Field(
        "Support", min_length=1, max_length=80, description="Name shown in email headers and sign-offs"
    )
    ingest_public_url: str = Field(
        "http://127.0.0.1:8081", description="Base URL of ingest as customers reach it (CSAT survey links)"
    )
    csat_survey_days: int = Field(
        14, ge=1, le=365, description="How long the survey link in a resolution email works"
    )
