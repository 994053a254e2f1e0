"""Kill ingest (SIGKILL) while emails arrive: every acknowledged email becomes exactly one ticket.

A mail provider retries whatever it got no 2xx for; after the restart it retries, ingest answers
`duplicate` for what it had already stored, and tickets sees each email once.
"""

from __future__ import annotations

import asyncio
import uuid

import httpx

from tests.helpers import all_tickets, bearer, eventually, make_email

EMAILS = 120
KILL_AFTER_ACCEPTED = 25


async def test_an_ingest_crash_loses_and_doubles_nothing(stack):
    settings = stack.settings
    ingest_url = f"{settings.service_url('ingest')}/v1/inbound/email"
    staff = bearer(settings)
    tag = uuid.uuid4().hex[:6]
    subjects = [f"ingest crash {tag} #{n:03d}" for n in range(EMAILS)]
    emails = [make_email(sender=f"ic{n}.{tag}@example.net", subject=s) for n, s in enumerate(subjects)]
    accepted: set[int] = set()
    failures: list[str] = []

    async with httpx.AsyncClient(timeout=30) as client:
        gate = asyncio.Semaphore(8)

        async def send(index: int, via: httpx.AsyncClient) -> str | None:
            async with gate:
                try:
                    response = await via.post(
                        ingest_url, content=emails[index], headers={"Content-Type": "message/rfc822"}
                    )
                except httpx.TransportError as error:
                    failures.append(repr(error))
                    return None  # ingest died mid-request: the provider will retry
            if response.status_code in (200, 202):
                accepted.add(index)
                return str(response.json()["status"])
            failures.append(f"{response.status_code} {response.text[:300]}")
            return None

        async def crash_midway() -> None:
            await eventually(lambda: _at_least(accepted, KILL_AFTER_ACCEPTED), timeout=60, interval=0.01)
            await asyncio.to_thread(stack.kill_service, "ingest")

        first_round, _ = await asyncio.gather(
            asyncio.gather(*(send(n, client) for n in range(EMAILS))), crash_midway()
        )
        acknowledged_before_crash = {n for n, status in enumerate(first_round) if status == "accepted"}
        await asyncio.to_thread(stack.restart_service, "ingest")
        await asyncio.to_thread(stack.wait_ready, ["ingest"])
        retried = [n for n, status in enumerate(first_round) if status is None]
        failures.clear()
        # The provider retries on new connections (the old ones died with the process). A write
        # the dead process left inside an open transaction blocks its documents until the
        # database expires that transaction (a minute on MongoDB), so retries may wait that long.
        async with httpx.AsyncClient(timeout=150) as fresh:
            retry_round = await asyncio.gather(*(send(n, fresh) for n in retried))

        async def every_ticket():
            tickets = await all_tickets(client, settings.service_url("tickets"), staff)
            mine = [t for t in tickets if t["title"].startswith(f"ingest crash {tag}")]
            return mine if len(mine) >= EMAILS else None

        await eventually(every_ticket, timeout=180, interval=0.5)
        await asyncio.sleep(2)  # a late duplicate would show up here
        tickets = [
            t
            for t in await all_tickets(client, settings.service_url("tickets"), staff)
            if t["title"].startswith(f"ingest crash {tag}")
        ]

    assert KILL_AFTER_ACCEPTED <= len(acknowledged_before_crash) < EMAILS, "the crash came mid-ingest"
    assert retried, "some requests were cut off by the crash"
    assert set(retry_round) <= {"accepted", "duplicate"}, failures
    assert sorted(t["title"] for t in tickets) == sorted(subjects), "each email exactly one ticket"


async def _at_least(accepted: set[int], count: int) -> bool:
    return len(accepted) >= count
