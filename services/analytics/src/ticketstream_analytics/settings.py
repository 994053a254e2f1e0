"""Settings of the analytics service."""

from typing import ClassVar

from ticketstream.settings import PlatformSettings


class Settings(PlatformSettings):
    service_name: ClassVar[str] = "analytics"
