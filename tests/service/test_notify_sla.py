"""notify against the real broker and database: SLA warnings and breaches reach staff in-app,
and a ticket waiting on its customer gets one threaded check-in email."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.helpers import (
    bearer,
    eventually,
    prepare_topics,
    publish_events,
    running,
    settings_from,
    ticket_created,
    ticket_snapshot,
)
from tests.mail_parts import text_and_html
from tests.service.test_sla_notify_analytics import smtp_relay  # noqa: F401 - a fixture
from ticketstream.auth import Role
from ticketstream.contracts.events import (
    SlaBreached,
    SlaTarget,
    SlaWaitingReminderDue,
    SlaWarning,
    TicketStatusChanged,
)
from ticketstream.contracts.models import TicketStatus
from ticketstream_notify.app import create_app as create_notify
from ticketstream_notify.settings import Settings as NotifySettings


def sla(kind: type, ticket: Any, **fields: Any) -> Any:
    now = datetime.now(UTC)
    return kind(
        ticket_id=ticket.id,
        ref=ticket.ref,
        clock_id=f"{ticket.id}:first_response",
        target=SlaTarget.FIRST_RESPONSE,
        policy_id="default-high",
        priority=ticket.priority,
        due_at=now,
        occurred_at=now,
        **fields,
    )


async def test_sla_warnings_reach_the_assignee_and_breaches_also_the_managers(infra_env):
    settings = settings_from(infra_env, NotifySettings)
    await prepare_topics(settings)
    ticket = ticket_snapshot(ref="TKT-0501", priority="HIGH").model_copy(update={"assignee_ids": ["dana"]})
    async with running(create_notify(settings)) as client:
        warning, breach = sla(SlaWarning, ticket), sla(SlaBreached, ticket)
        await publish_events(settings, [ticket_created(ticket)])
        await publish_events(settings, [warning, breach, breach], event_ids=["w1", "b1", "b1"])

        async def inbox(sub: str, role: Role) -> Any:
            answer = (await client.get("/v1/notifications", headers=bearer(settings, role, sub=sub))).json()
            return [item for item in answer["items"] if item["kind"].startswith("sla.")]

        async def dana_has_both() -> Any:
            items = await inbox("dana", Role.AGENT)
            return items if len(items) >= 2 else None

        dana = await eventually(dana_has_both)
        await asyncio.sleep(0.5)  # a duplicate would arrive here
        dana = await inbox("dana", Role.AGENT)
        mia = await inbox("mia", Role.MANAGER)
        alice = await inbox("alice", Role.AGENT)
    assert sorted(item["kind"] for item in dana) == ["sla.breached", "sla.warning"]
    assert [item["kind"] for item in mia] == ["sla.breached"]
    assert alice == [], "an agent who is not on the ticket hears nothing"
    assert "TKT-0501: first response target missed" in [item["title"] for item in mia]


async def test_a_ticket_waiting_on_its_customer_gets_one_threaded_check_in_email(infra_env, smtp_relay):  # noqa: F811
    relay, smtp_url = smtp_relay
    settings = settings_from(infra_env, NotifySettings, smtp_url=smtp_url)
    await prepare_topics(settings)
    ticket = ticket_snapshot(ref="TKT-0502", requester="kim@example.com", thread="<root502@example.com>")
    since = datetime.now(UTC)
    waiting = ticket.model_copy(
        update={"status": TicketStatus.WAITING_ON_CUSTOMER, "version": 2, "updated_at": since}
    )
    went_waiting = TicketStatusChanged(
        ticket_id=ticket.id,
        ref=ticket.ref,
        sequence=2,
        occurred_at=since,
        ticket=waiting,
        from_status=TicketStatus.OPEN,
        to_status=TicketStatus.WAITING_ON_CUSTOMER,
    )
    reminder = SlaWaitingReminderDue(
        ticket_id=ticket.id,
        ref=ticket.ref,
        waiting_since=since,
        close_at=since + timedelta(days=2),
        occurred_at=since + timedelta(days=1),
    )
    app = create_notify(settings)
    async with running(app):
        await publish_events(settings, [ticket_created(ticket), went_waiting])

        async def seen_waiting() -> bool:
            known = await app.state.notify_store.ticket(ticket.id)
            return known is not None and known[0].status is TicketStatus.WAITING_ON_CUSTOMER

        await eventually(seen_waiting)
        await publish_events(settings, [reminder, reminder], event_ids=["r1", "r1"])

        async def check_in() -> Any:
            return [m for m in relay.messages if "Do you still need help?" in m["Subject"]] or None

        await eventually(check_in)
        await asyncio.sleep(0.5)
        [mail] = await check_in()
    assert mail["To"] == "kim@example.com"
    assert mail["Subject"] == "[TKT-0502] Do you still need help? Title of TKT-0502"
    assert mail["In-Reply-To"] == "<root502@example.com>"
    assert mail["Reply-To"] == "support+TKT-0502@ticketstream.local"
    body, _ = text_and_html(mail)
    assert (since + timedelta(days=2)).strftime("%Y-%m-%d %H:%M UTC") in body


async def test_read_state_is_per_person_and_a_stranger_cannot_mark_what_is_not_theirs(infra_env):
    settings = settings_from(infra_env, NotifySettings)
    await prepare_topics(settings)
    queued = ticket_snapshot(ref="TKT-0503").model_copy(update={"assigned_team": "network"})
    async with running(create_notify(settings)) as client:
        await publish_events(settings, [ticket_created(queued)])
        member = bearer(settings, sub="nils", teams=["network"])
        colleague = bearer(settings, sub="nora", teams=["network"])
        stranger = bearer(settings, sub="sam", teams=["billing"])

        async def inbox(headers: dict[str, str]) -> Any:
            return (await client.get("/v1/notifications", headers=headers)).json()

        async def arrived() -> Any:
            answer = await inbox(member)
            return answer if answer["items"] else None

        [item] = (await eventually(arrived))["items"]
        refused = await client.post(f"/v1/notifications/{item['id']}/read", headers=stranger)
        marked = await client.post(f"/v1/notifications/{item['id']}/read", headers=member)
        mine, theirs = await inbox(member), await inbox(colleague)
        all_read = (await client.post("/v1/notifications/read-all", headers=colleague)).json()
        after = await inbox(colleague)
    assert refused.status_code == 404
    assert marked.status_code == 204
    assert (mine["unread_count"], mine["items"][0]["read"]) == (0, True)
    assert (theirs["unread_count"], theirs["items"][0]["read"]) == (1, False), "read state is per person"
    assert all_read == {"marked": 1}
    assert after["unread_count"] == 0
