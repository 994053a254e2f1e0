"""Kill the tickets service while 200 emails are being ingested: nothing is lost or doubled."""

from __future__ import annotations

import asyncio
import uuid

import httpx

from tests.helpers import all_tickets, bearer, eventually, make_email

EMAILS = 200
KILL_AFTER_TICKETS = 30


async def test_every_email_becomes_exactly_one_ticket_across_a_tickets_crash(stack):
    settings = stack.settings
    tickets_url = settings.service_url("tickets")
    staff = bearer(settings)
    tag = uuid.uuid4().hex[:6]
    subjects = [f"crash {tag} #{index:03d}" for index in range(EMAILS)]
    emails = [
        make_email(sender=f"user{index}@example.net", subject=subject)
        for index, subject in enumerate(subjects)
    ]
    killed_at: list[int] = []

    async with httpx.AsyncClient(timeout=30) as client:
        gate = asyncio.Semaphore(8)

        async def send(raw: bytes) -> int:
            async with gate:
                response = await client.post(
                    f"{settings.service_url('ingest')}/v1/inbound/email",
                    content=raw,
                    headers={"Content-Type": "message/rfc822"},
                )
                return response.status_code

        async def crash_tickets_midway() -> None:
            async def enough_tickets():
                response = await client.get(f"{tickets_url}/v1/tickets?limit=200", headers=staff)
                count = len(response.json()["items"])
                return count if count >= KILL_AFTER_TICKETS else None

            killed_at.append(await eventually(enough_tickets, timeout=60, interval=0.02))
            await asyncio.to_thread(stack.kill_service, "tickets")

        statuses, _ = await asyncio.gather(
            asyncio.gather(*(send(raw) for raw in emails)), crash_tickets_midway()
        )
        assert statuses == [202] * EMAILS
        assert not stack.services["tickets"].alive()

        await asyncio.to_thread(stack.restart_service, "tickets")
        await asyncio.to_thread(stack.wait_ready, ["tickets"])

        async def all_processed():
            tickets = await all_tickets(client, tickets_url, staff)
            return tickets if len(tickets) >= EMAILS else None

        await eventually(all_processed, timeout=180, interval=0.5)
        await asyncio.sleep(2)  # a late duplicate would show up here
        tickets = await all_tickets(client, tickets_url, staff)

    assert killed_at and KILL_AFTER_TICKETS <= killed_at[0] < EMAILS, "the crash happened mid-ingest"
    assert sorted(t["title"] for t in tickets) == sorted(subjects), "each email exactly one ticket"
    assert sorted(t["ref"] for t in tickets) == [f"TKT-{n:04d}" for n in range(1, EMAILS + 1)]
