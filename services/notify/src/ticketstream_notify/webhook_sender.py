"""Sends one webhook attempt over HTTP, to an address vetted against SSRF rules.

The host is resolved here, every address it resolves to is checked, and the request goes to the
vetted address itself (with the URL's Host header and TLS server name), so a name that resolves
differently a moment later (DNS rebinding) cannot steer the request elsewhere.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass

import httpx

from ticketstream_notify import ssrf

USER_AGENT = "Ticketstream-Webhooks/1"
MAX_ERROR_CHARS = 500


@dataclass(frozen=True)
class AttemptResult:
    status_code: int | None
    error: str | None
    duration_ms: int


async def resolve(host: str, port: int) -> list[ssrf.IPAddress]:
    """Every address `host` resolves to (an IP literal resolves to itself)."""
    literal = ssrf.literal_address(host)
    if literal is not None:
        return [literal]
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return []
    addresses: list[ssrf.IPAddress] = []
    for info in infos:
        # An IPv6 scope ("fe80::1%eth0") is not part of the address.
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


async def vet_url(url: str, *, allow_private: bool, require_https: bool) -> str | None:
    """Why notify may not call `url` (its form or where it resolves to), or None."""
    try:
        target = ssrf.parse_target(url, require_https=require_https)
    except ssrf.UnsafeTargetError as error:
        return str(error)
    return ssrf.refusal_of_addresses(
        target.host, await resolve(target.host, target.port), allow_private=allow_private
    )


class WebhookSender:
    def __init__(
        self,
        *,
        timeout_seconds: float,
        allow_private: bool,
        require_https: bool,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        """`tls` replaces the system's trust store (tests use it to trust their own CA)."""
        self._tls: ssl.SSLContext | bool = tls if tls is not None else True
        self._allow_private = allow_private
        self._require_https = require_https
        self._timeout = timeout_seconds
        self._http: httpx.AsyncClient | None = None

    @property
    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            # No redirects (a 3xx could point anywhere) and no proxies from the environment
            # (a proxy would connect on our behalf, past the address check).
            self._http = httpx.AsyncClient(
                timeout=httpx.Timeout(self._timeout),
                follow_redirects=False,
                trust_env=False,
                verify=self._tls,
            )
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def send(self, url: str, *, body: bytes, headers: dict[str, str]) -> AttemptResult:
        started = time.monotonic()

        def result(status_code: int | None, error: str | None) -> AttemptResult:
            return AttemptResult(status_code, error, int((time.monotonic() - started) * 1000))

        try:
            target = ssrf.parse_target(url, require_https=self._require_https)
        except ssrf.UnsafeTargetError as error:
            return result(None, f"refused: {error}")
        addresses = await resolve(target.host, target.port)
        refusal = ssrf.refusal_of_addresses(target.host, addresses, allow_private=self._allow_private)
        if refusal is not None:
            return result(None, f"refused: {refusal}")
        host_header = target.host if ":" not in target.host else f"[{target.host}]"
        if target.port != (443 if target.scheme == "https" else 80):
            host_header = f"{host_header}:{target.port}"
        request_headers = {
            **headers,
            "host": host_header,
            "content-type": "application/json",
            "user-agent": USER_AGENT,
        }
        failure = "no address answered"
        # Every address was vetted; the next one is tried only when a connection cannot be made
        # (never after a request went out, so a receiver never gets one attempt twice).
        for address in addresses:
            literal = f"[{address}]" if address.version == 6 else str(address)
            request = self._client.build_request(
                "POST",
                f"{target.scheme}://{literal}:{target.port}{target.target}",
                content=body,
                headers=request_headers,
                # TLS checks the certificate against the name in the URL, not the address.
                extensions={"sni_hostname": target.host},
            )
            try:
                response = await self._client.send(request)
                await response.aclose()
            except httpx.ConnectError as error:
                failure = _describe(error)
                continue
            except httpx.HTTPError as error:
                return result(None, _describe(error))
            if 200 <= response.status_code < 300:
                return result(response.status_code, None)
            return result(response.status_code, f"the receiver answered HTTP {response.status_code}")
        return result(None, failure)


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:MAX_ERROR_CHARS]
