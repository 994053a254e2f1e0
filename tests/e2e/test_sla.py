"""SLA timing through the whole stack: tickets made over HTTP, clocks fired by the sla process,
breaches stamped back on the ticket, and a crash of the sla process before a due time."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx

from tests.helpers import bearer, eventually, read_topic
from ticketstream.auth import Role
from ticketstream.contracts import topics

FIRST_RESPONSE_SECONDS = 10


async def _fast_policy(client: httpx.AsyncClient, sla: str, admin: dict[str, str]) -> None:
    """URGENT tickets of category 'fast' get seconds-long targets (the default stays for others)."""
    response = await client.post(
        f"{sla}/v1/policies",
        json={
            "id": "e2e-fast",
            "name": "Fast",
            "priority": "URGENT",
            "category": "fast",
            "first_response_seconds": FIRST_RESPONSE_SECONDS,
            "resolution_seconds": 600,
        },
        headers=admin,
    )
    assert response.status_code in {201, 409}, response.text


async def _new_ticket(client: httpx.AsyncClient, tickets: str, agent: dict[str, str], title: str) -> dict:
    response = await client.post(
        f"{tickets}/v1/tickets",
        json={
            "title": title,
            "priority": "URGENT",
            "category": "fast",
            "assigned_team": "support",
            "requester": {"email": "dana@example.com", "name": "Dana Example"},
        },
        headers=agent,
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_breach_due_while_sla_is_down_is_published_once_and_stamped_on_the_ticket(stack):
    settings = stack.settings
    sla, tickets = settings.service_url("sla"), settings.service_url("tickets")
    agent, admin = bearer(settings), bearer(settings, Role.ADMIN, sub="ada")
    async with httpx.AsyncClient(timeout=15) as client:
        await _fast_policy(client, sla, admin)
        ticket = await _new_ticket(client, tickets, agent, "Checkout is down")
        ref = ticket["ref"]

        created = datetime.fromisoformat(ticket["created_at"])
        first_due = created + timedelta(seconds=FIRST_RESPONSE_SECONDS)

        async def resolution_due_stamped():
            current = (await client.get(f"{tickets}/v1/tickets/{ref}", headers=agent)).json()
            due = current["due_date"]
            return due and datetime.fromisoformat(due) - created >= timedelta(seconds=599)

        await eventually(resolution_due_stamped, timeout=30)
        # sla also reads the stamp (a ticket.updated); a transaction cut off by the kill would hold
        # its documents until the database aborts it, so the kill comes once sla is idle.
        await asyncio.sleep(1)
        await asyncio.to_thread(stack.kill_service, "sla")
        assert datetime.now(UTC) < first_due, "the crash came before the first-response due time"
        await asyncio.sleep((first_due - datetime.now(UTC)).total_seconds() + 1)
        # Started from the test's own thread: a child dies with the thread that started it.
        stack.restart_service("sla")
        await asyncio.to_thread(stack.wait_ready, ["sla"])

        async def breach_stamped():
            current = (await client.get(f"{tickets}/v1/tickets/{ref}", headers=agent)).json()
            return current if current["sla_breach_at"] else None

        breached = await eventually(breach_stamped, timeout=60)
        await asyncio.sleep(2)  # a duplicate breach would arrive here
        view = (await client.get(f"{sla}/v1/clocks/{ref}", headers=agent)).json()

    records = await read_topic(
        settings.kafka_bootstrap,
        settings.topic(topics.SLA),
        until=lambda r: any(x.headers["ce_type"] == "sla.breached" for x in r),
    )
    distinct = {record.headers["ce_id"]: record for record in records if record.headers["ce_subject"] == ref}
    kinds = Counter(record.headers["ce_type"] for record in distinct.values())
    assert kinds["sla.breached"] == 1, kinds
    assert kinds["sla.warning"] == 1, kinds
    breach_at = datetime.fromisoformat(breached["sla_breach_at"])
    assert abs(breach_at - first_due) < timedelta(milliseconds=2)
    first = next(target for target in view["targets"] if target["target"] == "first_response")
    assert first["status"] == "Breached"


async def test_a_public_reply_before_the_target_meets_it_and_the_ticket_never_breaches(stack):
    settings = stack.settings
    sla, tickets = settings.service_url("sla"), settings.service_url("tickets")
    agent, admin = bearer(settings), bearer(settings, Role.ADMIN, sub="ada")
    async with httpx.AsyncClient(timeout=15) as client:
        await _fast_policy(client, sla, admin)
        ticket = await _new_ticket(client, tickets, agent, "Password reset mail missing")
        ref = ticket["ref"]
        reply = await client.post(
            f"{tickets}/v1/tickets/{ref}/replies", json={"body": "We are on it."}, headers=agent
        )
        assert reply.status_code == 201

        async def met():
            view = (await client.get(f"{sla}/v1/clocks/{ref}", headers=agent)).json()
            targets = {target["target"]: target for target in view.get("targets", [])}
            first = targets.get("first_response")
            return view if first and first["state"] == "met" else None

        view = await eventually(met, timeout=90)
        await asyncio.sleep(FIRST_RESPONSE_SECONDS + 1)
        after = (await client.get(f"{tickets}/v1/tickets/{ref}", headers=agent)).json()
    first = next(target for target in view["targets"] if target["target"] == "first_response")
    assert first["status"] == "Met"
    assert first["elapsed_seconds"] < FIRST_RESPONSE_SECONDS
    assert after["sla_breach_at"] is None
