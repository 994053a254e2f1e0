"""Pure rate-limit decisions for the anonymous channels (portal form).

Counting happens in the database (so every replica sees the same counts); deciding happens here.
The window is a sliding-window estimate over two fixed windows: the previous window's count is
weighted by how much of it still overlaps the last hour. That smooths the burst a plain fixed
window allows at its boundary, at the cost of two counters per key. No IO here.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

RATE_WINDOW = timedelta(hours=1)
# IPv6 clients usually hold a whole /64: counting single addresses would not limit anyone.
IPV6_RATE_PREFIX = 64


class RateScope(StrEnum):
    SENDER = "sender"
    ADDRESS = "address"


_REASONS = {
    RateScope.SENDER: "this email address",
    RateScope.ADDRESS: "this network address",
}


@dataclass(frozen=True)
class WindowCounts:
    """Requests counted for one key in the previous and the current window."""

    previous: int
    current: int


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    retry_after_seconds: int = 0
    scope: RateScope | None = None
    reason: str | None = None


def window_index(now: datetime, *, window: timedelta = RATE_WINDOW) -> int:
    """Which fixed window `now` falls in (windows are counted from the Unix epoch)."""
    return int(now.timestamp() // window.total_seconds())


def window_end(index: int, *, window: timedelta = RATE_WINDOW) -> datetime:
    return datetime.fromtimestamp((index + 1) * window.total_seconds(), UTC)


def rate_decision(
    counts: Mapping[RateScope, WindowCounts],
    limits: Mapping[RateScope, int],
    *,
    now: datetime,
    window: timedelta = RATE_WINDOW,
) -> RateDecision:
    """Allow or refuse a request whose own hit is already included in `counts`.

    A limit of 0 switches that scope off. When several scopes refuse, the one that stays closed
    longest is reported, so Retry-After is never too early.
    """
    seconds = window.total_seconds()
    elapsed = now.timestamp() % seconds
    refusals: list[RateDecision] = []
    for scope, limit in limits.items():
        count = counts.get(scope)
        if limit <= 0 or count is None or _estimate(count, elapsed, seconds) <= limit:
            continue
        wait = _seconds_until_allowed(count, limit, elapsed, seconds)
        refusals.append(
            RateDecision(
                allowed=False,
                retry_after_seconds=max(1, math.ceil(wait)),
                scope=scope,
                reason=f"too many requests from {_REASONS[scope]}: at most {limit} per "
                f"{_duration(window)}; try again later",
            )
        )
    if not refusals:
        return RateDecision(allowed=True)
    return max(refusals, key=lambda decision: decision.retry_after_seconds)


def _estimate(count: WindowCounts, elapsed: float, seconds: float) -> float:
    return count.previous * (1 - elapsed / seconds) + count.current


def _seconds_until_allowed(count: WindowCounts, limit: int, elapsed: float, seconds: float) -> float:
    """How long until one more request fits, once this refused one is taken back."""
    current = max(count.current - 1, 0)
    room = limit - current - 1
    if room >= 0 and count.previous > 0:
        # Within this window the previous window's weight fades linearly.
        fits_at = seconds * (1 - room / count.previous)
        if fits_at < seconds:
            return max(fits_at - elapsed, 0.0)
    # In the next window this window's count becomes the fading one.
    fits_at_next = 0.0 if current == 0 else max(seconds * (1 - (limit - 1) / current), 0.0)
    return seconds - elapsed + fits_at_next


def _duration(window: timedelta) -> str:
    seconds = int(window.total_seconds())
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return "hour" if hours == 1 else f"{hours} hours"
    return f"{seconds} seconds"


def client_address(peer: str | None, forwarded_for: str | None, *, trusted_hops: int) -> str:
    """The address the request came from, seen through `trusted_hops` reverse proxies.

    Each proxy appends the address it received the request from to X-Forwarded-For, so the
    client is the entry `trusted_hops` from the right; anything further left was written by the
    client itself and cannot be believed. Without trusted proxies the header is ignored.
    """
    if trusted_hops > 0 and forwarded_for:
        entries = [entry.strip() for entry in forwarded_for.split(",") if entry.strip()]
        if entries:
            candidate = entries[max(len(entries) - trusted_hops, 0)]
            if _is_ip(candidate):
                return candidate
    return peer or "unknown"


def address_rate_key(address: str) -> str:
    """The key an address is counted under: the address itself, or its /64 for IPv6."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/{IPV6_RATE_PREFIX}", strict=False))
    return str(ip)


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
