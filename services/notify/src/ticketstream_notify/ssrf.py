"""Which webhook targets notify may call. Pure: the caller resolves names and passes addresses.

A webhook URL is chosen by an admin but fetched by the service from inside the network, so a
target that resolves to loopback, a private or link-local range (cloud metadata at 169.254.169.254
among them) or any other non-public address is refused unless private targets are allowed (dev/test).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_URL_LENGTH = 2048

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

# Checked in order; the first match names the reason. `is_global` catches what is left
# (documentation, benchmarking and other special-purpose ranges).
_REFUSED_RANGES: tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...] = (
    (_V4("0.0.0.0/8"), "unspecified (0.0.0.0/8)"),
    (_V4("127.0.0.0/8"), "loopback"),
    (_V4("10.0.0.0/8"), "private (RFC 1918)"),
    (_V4("172.16.0.0/12"), "private (RFC 1918)"),
    (_V4("192.168.0.0/16"), "private (RFC 1918)"),
    (_V4("100.64.0.0/10"), "shared address space (carrier-grade NAT, 100.64.0.0/10)"),
    (_V4("169.254.0.0/16"), "link-local (cloud metadata lives here)"),
    (_V4("224.0.0.0/4"), "multicast"),
    (_V4("240.0.0.0/4"), "reserved"),
    (_V6("::/128"), "unspecified"),
    (_V6("::1/128"), "loopback"),
    (_V6("fc00::/7"), "private (unique local, fc00::/7)"),
    (_V6("fe80::/10"), "link-local"),
    (_V6("fec0::/10"), "site-local (deprecated)"),
    (_V6("ff00::/8"), "multicast"),
    # ::ffff:0:a.b.c.d (RFC 2765 IPv4-translated; not the ::ffff:a.b.c.d mapped form): a translator
    # on the path turns it into plain IPv4, and no public receiver is reached this way.
    (_V6("::ffff:0:0:0/96"), "IPv4-translated (::ffff:0:0:0/96)"),
)


class UnsafeTargetError(ValueError):
    """A webhook URL notify will not call; the message says why."""


@dataclass(frozen=True)
class WebhookTarget:
    scheme: str
    host: str  # as written in the URL (lower-case, no brackets)
    port: int
    target: str  # path and query, e.g. /hooks?x=1


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries (mapped, translated, compatible, NAT64, 6to4, Teredo),
    if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    packed = int(address)
    if (
        address in _V6("64:ff9b::/96")
        or address in _V6("64:ff9b:1::/48")
        or address in _V6("::ffff:0:0:0/96")
    ):
        return ipaddress.IPv4Address(packed & 0xFFFFFFFF)
    if address in _V6("::/96") and packed > 1:  # deprecated IPv4-compatible ::a.b.c.d
        return ipaddress.IPv4Address(packed)
    return None


def address_refusal(address: IPAddress) -> str | None:
    """Why notify must not connect to `address`, or None when it is a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        embedded_reason = address_refusal(embedded) if embedded is not None else None
        if embedded_reason is not None:
            return f"{embedded_reason} (IPv4 {embedded} inside IPv6 {address})"
    for network, reason in _REFUSED_RANGES:
        if address.version == network.version and address in network:
            return reason
    if not address.is_global:
        return "not a public address"
    return None


def parse_target(url: str, *, require_https: bool) -> WebhookTarget:
    """Check the URL's form (not its addresses: see `address_refusal`)."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeTargetError(f"the URL is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as error:
        raise UnsafeTargetError(f"not a valid URL: {error}") from error
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"}:
        raise UnsafeTargetError("the URL must start with https:// (or http:// outside production)")
    if require_https and scheme != "https":
        raise UnsafeTargetError("webhook targets must use https in production")
    if parts.username is not None or parts.password is not None:
        raise UnsafeTargetError("credentials in the URL are not allowed: receivers verify the signature")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeTargetError("the URL has no host")
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError as error:
        raise UnsafeTargetError(f"the host {host!r} is not a valid name") from error
    if parts.fragment:
        raise UnsafeTargetError("the URL must not have a #fragment")
    target = parts.path or "/"
    if parts.query:
        target = f"{target}?{parts.query}"
    return WebhookTarget(
        scheme=scheme, host=host, port=port or (443 if scheme == "https" else 80), target=target
    )


def literal_address(host: str) -> IPAddress | None:
    """The address when the host is an IP literal, else None (a name to resolve)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def refusal_of_addresses(host: str, addresses: list[IPAddress], *, allow_private: bool) -> str | None:
    """Why the resolved addresses of `host` may not be called (every one must be public)."""
    if not addresses:
        return f"{host} does not resolve to any address"
    if allow_private:
        return None
    for address in addresses:
        reason = address_refusal(address)
        if reason is not None:
            return f"{host} resolves to {address}, which is {reason}"
    return None
