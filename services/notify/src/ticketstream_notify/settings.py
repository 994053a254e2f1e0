"""Settings of the notify service."""

from typing import ClassVar

from ticketstream.settings import PlatformSettings


class Settings(PlatformSettings):
    service_name: ClassVar[str] = "notify"
