"""What keeps a message out of the help desk: the quarantine rules, as pure decisions.

A held message is never dropped: it waits in quarantine with its reason until an admin
releases it (it is then ingested as if it had just arrived) or discards it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from ticketstream.contracts.addressing import domain_of, is_support_address
from ticketstream_ingest.domain import ParsedEmail


class HoldReason(StrEnum):
    MALFORMED = "malformed"
    OVERSIZE = "oversize"
    LOOP = "loop"
    BLOCKED_SENDER = "blocked_sender"
    OWN_ADDRESS = "own_address"
    SIGNATURE = "signature"


@dataclass(frozen=True)
class Hold:
    reason: HoldReason
    detail: str


def screen_sender(
    parsed: ParsedEmail, *, support_address: str, own_addresses: Iterable[str], blocked: Iterable[str]
) -> Hold | None:
    """Hold mail Ticketstream sent itself (a loop through a forwarder) and mail from blocked senders.

    `blocked` holds addresses (`spam@example.com`) and whole domains (`example.com` or `@example.com`).
    """
    sender = parsed.sender.email
    if is_support_address(sender, support_address) or sender in {a.lower() for a in own_addresses}:
        return Hold(HoldReason.OWN_ADDRESS, f"sent from Ticketstream's own address {sender}")
    domain = domain_of(sender)
    for entry in blocked:
        rule = entry.strip().lower()
        if rule and (rule == sender or rule.lstrip("@") == domain):
            return Hold(HoldReason.BLOCKED_SENDER, f"the sender {sender} is blocked ({rule})")
    return None


def screen_rate(*, sender: str, count_this_hour: int, limit_per_hour: int) -> Hold | None:
    """Hold what a sender sends beyond the hourly limit: mail loops send hundreds an hour."""
    if limit_per_hour and count_this_hour > limit_per_hour:
        return Hold(
            HoldReason.LOOP,
            f"{sender} sent {count_this_hour} messages within the hour (limit {limit_per_hour}): "
            "held as a probable mail loop",
        )
    return None
