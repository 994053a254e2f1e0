"""Topic names of the event backbone (ARCHITECTURE §3). Deployed names may carry a prefix."""

from typing import Final

INBOUND: Final = "ticketstream.inbound.v1"
TICKETS: Final = "ticketstream.tickets.v1"
SLA: Final = "ticketstream.sla.v1"
NOTIFY: Final = "ticketstream.notify.v1"
DIRECTORY: Final = "ticketstream.directory.v1"

DLQ_SUFFIX: Final = ".dlq"

EVENT_TOPICS: Final = (INBOUND, TICKETS, SLA, NOTIFY, DIRECTORY)
COMPACTED_TOPICS: Final = frozenset({DIRECTORY})


def dlq_of(topic: str) -> str:
    return f"{topic}{DLQ_SUFFIX}"


def all_topics() -> tuple[str, ...]:
    """Every topic a deployment needs, dead-letter topics included."""
    return EVENT_TOPICS + tuple(dlq_of(topic) for topic in EVENT_TOPICS)
