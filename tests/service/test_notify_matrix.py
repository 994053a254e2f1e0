"""notify's matrix against the real broker and database: the admin routes of templates and rows,
staff preferences, and the status, resolution (CSAT), assignment, escalation and detractor mail."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.helpers import (
    bearer,
    eventually,
    prepare_topics,
    publish_events,
    read_topic,
    running,
    settings_from,
    ticket_created,
    ticket_snapshot,
)
from tests.mail_parts import text_and_html
from tests.service.test_sla_notify_analytics import smtp_relay  # noqa: F401 - a fixture
from ticketstream.auth import Role
from ticketstream.contracts import topics
from ticketstream.contracts.events import (
    DirectoryAgent,
    DirectoryTeam,
    InteractionSummary,
    TicketAssigned,
    TicketCsatRecorded,
    TicketEscalated,
    TicketInteractionAdded,
    TicketStatusChanged,
)
from ticketstream.contracts.models import Csat, InteractionType, Priority, TicketStatus
from ticketstream.csat_tokens import verify_csat_token
from ticketstream.db import create_mongo_client
from ticketstream_notify.app import create_app as create_notify
from ticketstream_notify.settings import Settings as NotifySettings
from ticketstream_notify.store_directory import DirectoryStore


async def test_template_admin_routes_validate_preview_and_check_roles(infra_env):
    settings = settings_from(infra_env, NotifySettings)
    await prepare_topics(settings)
    admin = bearer(settings, Role.ADMIN, sub="ada")
    agent = bearer(settings, Role.AGENT, sub="alice")
    customer = bearer(settings, Role.CUSTOMER, sub="kim", email="kim@example.com")
    good = {
        "subject": "Resolved: {{ title }}",
        "text": "Dear {{ customer_name }}, rate us: {{ csat_url }}",
        "html": "<p>Dear {{ customer_name }}</p>",
    }
    async with running(create_notify(settings)) as client:
        anonymous = await client.get("/v1/admin/templates")
        as_agent = await client.get("/v1/admin/templates", headers=agent)
        as_customer = await client.get("/v1/admin/templates", headers=customer)
        listed = (await client.get("/v1/admin/templates", headers=admin)).json()
        unknown_key = await client.get("/v1/admin/templates/no.such", headers=admin)
        unknown_var = await client.put(
            "/v1/admin/templates/status.resolved", json={**good, "text": "{{ secret_key }}"}, headers=admin
        )
        broken = await client.put(
            "/v1/admin/templates/status.resolved", json={**good, "html": "<p>{% if %}</p>"}, headers=admin
        )
        agent_put = await client.put("/v1/admin/templates/status.resolved", json=good, headers=agent)
        saved = await client.put("/v1/admin/templates/status.resolved", json=good, headers=admin)
        fetched = (await client.get("/v1/admin/templates/status.resolved", headers=admin)).json()
        preview = await client.post(
            "/v1/admin/templates/status.resolved/preview",
            json={"variables": {"title": "<b>VAT</b>"}},
            headers=admin,
        )
        draft_preview = await client.post(
            "/v1/admin/templates/reply/preview",
            json={
                "template": {"subject": "x", "text": "{{ reply_text }}!", "html": "<i>{{ agent_name }}</i>"}
            },
            headers=admin,
        )
        bad_preview = await client.post(
            "/v1/admin/templates/reply/preview", json={"variables": {"nope": "1"}}, headers=admin
        )
        deleted = await client.delete("/v1/admin/templates/status.resolved", headers=admin)
        deleted_again = await client.delete("/v1/admin/templates/status.resolved", headers=admin)
        after = (await client.get("/v1/admin/templates/status.resolved", headers=admin)).json()
    assert anonymous.status_code == 401
    assert as_agent.status_code == 403
    assert as_customer.status_code == 404
    keys = {item["key"] for item in listed["items"]}
    assert {"acknowledgement", "reply", "status.resolved", "ticket.escalated", "csat.detractor"} <= keys
    resolved = next(item for item in listed["items"] if item["key"] == "status.resolved")
    assert "csat_url" in resolved["variables"] and resolved["customized"] is False
    assert unknown_key.status_code == 404
    assert unknown_var.status_code == 422
    assert "unknown variables secret_key" in unknown_var.json()["error"]["message"]
    assert broken.status_code == 422 and "does not compile" in broken.json()["error"]["message"]
    assert agent_put.status_code == 403
    assert saved.status_code == 200 and saved.json()["customized"] is True
    assert fetched["text"] == good["text"] and fetched["updated_by"] == "ada"
    assert preview.status_code == 200
    shown = preview.json()
    assert shown["subject"] == "[TKT-0042] Resolved: <b>VAT</b>"
    assert shown["text"] == "Dear Kim, rate us: https://help.example.com/v1/csat/sample-token"
    assert draft_preview.json()["text"].endswith("it should work.!")
    assert "<i>Alice</i>" in draft_preview.json()["html"]
    assert bad_preview.status_code == 422
    assert deleted.status_code == 204 and deleted_again.status_code == 404
    assert after["customized"] is False and "Rate our help" in after["text"]


async def test_rules_and_preferences_routes(infra_env):
    settings = settings_from(infra_env, NotifySettings)
    await prepare_topics(settings)
    admin = bearer(settings, Role.ADMIN, sub="ada")
    agent = bearer(settings, Role.AGENT, sub="dana")
    async with running(create_notify(settings)) as client:
        rules = (await client.get("/v1/admin/notification-rules", headers=admin)).json()["items"]
        agent_rules = await client.get("/v1/admin/notification-rules", headers=agent)
        customer_in_app = await client.put(
            "/v1/admin/notification-rules", json={"items": [{"kind": "reply", "in_app": "on"}]}, headers=admin
        )
        unknown = await client.put(
            "/v1/admin/notification-rules",
            json={"items": [{"kind": "sla.warning", "email": "on"}, {"kind": "nope"}]},
            headers=admin,
        )
        switched = await client.put(
            "/v1/admin/notification-rules",
            json={
                "items": [
                    {"kind": "ticket.mentioned", "email": "off"},
                    {"kind": "status.closed", "enabled": False},
                ]
            },
            headers=admin,
        )
        mine = (await client.get("/v1/notifications/preferences", headers=agent)).json()["items"]
        chose = await client.put(
            "/v1/notifications/preferences",
            json={
                "kinds": {
                    "sla.warning": {"email": True},
                    "ticket.mentioned": {"email": True, "in_app": False},
                }
            },
            headers=agent,
        )
        customer_row = await client.put(
            "/v1/notifications/preferences", json={"kinds": {"reply": {"email": False}}}, headers=agent
        )
        unknown_pref = await client.put(
            "/v1/notifications/preferences", json={"kinds": {"x.y": {"email": False}}}, headers=agent
        )
        anonymous = await client.get("/v1/notifications/preferences")
        after_unknown = (await client.get("/v1/admin/notification-rules", headers=admin)).json()["items"]
    by_kind = {rule["kind"]: rule for rule in rules}
    assert by_kind["ticket.customer_replied"] == {
        "kind": "ticket.customer_replied",
        "audience": "staff",
        "description": by_kind["ticket.customer_replied"]["description"],
        "enabled": True,
        "in_app": "on",
        "email": "opt_in",
    }
    assert by_kind["status.resolved"]["email"] == "on" and by_kind["status.resolved"]["in_app"] == "off"
    assert agent_rules.status_code == 403
    assert (
        customer_in_app.status_code == 422 and "no in-app inbox" in customer_in_app.json()["error"]["message"]
    )
    assert unknown.status_code == 422
    assert {r["kind"]: r["email"] for r in after_unknown}["sla.warning"] == "opt_in", (
        "nothing of a refused PUT is kept"
    )
    switched_rows = {r["kind"]: r for r in switched.json()["items"]}
    assert switched_rows["ticket.mentioned"]["email"] == "off"
    assert switched_rows["status.closed"]["enabled"] is False
    assert {item["kind"] for item in mine} == {
        "ticket.created",
        "ticket.assigned",
        "ticket.customer_replied",
        "ticket.escalated",
        "ticket.mentioned",
        "sla.warning",
        "sla.breached",
        "csat.detractor",
    }
    chosen = {item["kind"]: item for item in chose.json()["items"]}
    assert chosen["sla.warning"]["email"] is True
    assert chosen["ticket.mentioned"]["email"] is False, "the admin switched mention email off"
    assert chosen["ticket.mentioned"]["in_app"] is False
    assert chosen["ticket.mentioned"]["choice"] == {"in_app": False, "email": True}
    assert customer_row.status_code == 422 and unknown_pref.status_code == 422
    assert anonymous.status_code == 401


def agent(agent_id: str, role: str, teams: list[str], now: datetime) -> DirectoryAgent:
    return DirectoryAgent(
        id=agent_id,
        email=f"{agent_id}@staff.example",
        name=agent_id.title(),
        role=role,
        teams=teams,
        occurred_at=now,
    )


def ticket_event(kind: type, ticket: Any, version: int, **fields: Any) -> Any:
    snapshot = ticket.model_copy(update={"version": version, **fields.pop("changes", {})})
    return kind(
        ticket_id=snapshot.id,
        ref=snapshot.ref,
        sequence=version,
        actor=fields.pop("actor", "dana"),
        occurred_at=datetime.now(UTC),
        ticket=snapshot,
        **fields,
    )


def story(ticket: Any, team: str, marker: str, now: datetime) -> tuple[list[Any], list[Any]]:
    """The desk's people, and a ticket's life: created, reassigned, noted, waiting, escalated,
    resolved and rated 1."""
    directory = [
        agent("dana", "agent", [team], now),
        agent("erin", "agent", [team], now),
        agent("lee", "team_lead", [team], now),
        agent("max", "manager", [team], now),
        agent("ada", "admin", [], now),
        DirectoryTeam(id=team, name="Billing", lead_ids=["lee"], manager_ids=["max"], occurred_at=now),
    ]
    events = [
        ticket_created(ticket),
        ticket_event(
            TicketAssigned,
            ticket,
            2,
            changes={"assignee_ids": ["dana", "erin"]},
            previous_assignee_ids=["dana"],
        ),
        ticket_event(
            TicketInteractionAdded,
            ticket,
            3,
            interaction=InteractionSummary(
                id="i1",
                type=InteractionType.INTERNAL_NOTE,
                customer_visible=False,
                author_id="dana",
                body_text=f"{marker} @erin please look",
                mentions=["erin"],
                created_at=now,
            ),
        ),
        ticket_event(
            TicketStatusChanged,
            ticket,
            4,
            changes={"status": TicketStatus.WAITING_ON_CUSTOMER},
            from_status=TicketStatus.IN_PROGRESS,
            to_status=TicketStatus.WAITING_ON_CUSTOMER,
        ),
        ticket_event(
            TicketEscalated,
            ticket,
            5,
            changes={"escalation_level": 1},
            from_level=0,
            to_level=1,
            reason="Angry VIP",
            previous_priority=Priority.MEDIUM,
        ),
        ticket_event(
            TicketStatusChanged,
            ticket,
            6,
            changes={"status": TicketStatus.RESOLVED},
            from_status=TicketStatus.WAITING_ON_CUSTOMER,
            to_status=TicketStatus.RESOLVED,
        ),
        ticket_event(
            TicketCsatRecorded,
            ticket,
            7,
            actor="kim@example.com",
            changes={"status": TicketStatus.RESOLVED},
            csat=Csat(score=1, comment="Slow and unhelpful"),
        ),
    ]
    return directory, events


async def choose_and_brand(client: Any, settings: NotifySettings, team: str) -> None:
    """erin asks for mention email; the admin rewords the waiting email."""
    admin = bearer(settings, Role.ADMIN, sub="ada")
    chose = await client.put(
        "/v1/notifications/preferences",
        json={"kinds": {"ticket.mentioned": {"email": True}}},
        headers=bearer(settings, sub="erin", teams=[team]),
    )
    branded = await client.put(
        "/v1/admin/templates/status.waiting_on_customer",
        json={
            "subject": "Over to you",
            "text": "{{ brand }} waits for {{ customer_name }}",
            "html": "<p>x</p>",
        },
        headers=admin,
    )
    assert chose.status_code == 200 and branded.status_code == 200


async def test_status_csat_assignment_escalation_and_detractor_mail(infra_env, smtp_relay):  # noqa: F811
    relay, smtp_url = smtp_relay
    settings = settings_from(
        infra_env,
        NotifySettings,
        smtp_url=smtp_url,
        ingest_public_url="https://in.example.test",
        brand_name="Acme Help",
    )
    await prepare_topics(settings)
    now = datetime.now(UTC)
    marker = f"note-{uuid.uuid4().hex}"
    team = f"billing-{uuid.uuid4().hex[:6]}"
    base = ticket_snapshot(ref="TKT-0601", requester="kim@example.com", thread="<root601@example.com>")
    ticket = base.model_copy(update={"assigned_team": team, "assignee_ids": ["dana"]})
    directory, events = story(ticket, team, marker, now)
    app = create_notify(settings)
    async with running(app) as client:
        await choose_and_brand(client, settings, team)
        await publish_events(settings, directory)

        async def directory_known() -> bool:
            found = await app.state.platform.database["directory_teams"].find_one({"_id": team})
            return found is not None

        await eventually(directory_known, timeout=30)
        ids = [f"{uuid.uuid4().hex}" for _ in events]
        await publish_events(settings, events, event_ids=ids)
        await publish_events(settings, [events[5]], event_ids=[ids[5]])  # a redelivery

        def by_subject(fragment: str) -> list[Any]:
            return [m for m in relay.messages if fragment in m["Subject"]]

        async def all_arrived() -> bool:
            return len(by_subject("Low satisfaction score")) == 2 and len(by_subject("is resolved")) >= 1

        await eventually(all_arrived, timeout=30)
        await asyncio.sleep(0.5)  # anything sent twice or wrongly would arrive here
        lee = (
            await client.get("/v1/notifications", headers=bearer(settings, Role.TEAM_LEAD, sub="lee"))
        ).json()
        delivered = await read_topic(
            settings.kafka_bootstrap,
            settings.topic(topics.NOTIFY),
            until=lambda r: len(r) >= len(relay.messages),
        )
    customer_mail = [m for m in relay.messages if m["To"] == "kim@example.com"]
    subjects = sorted(m["Subject"] for m in customer_mail)
    assert subjects == [
        "[TKT-0601] Over to you",
        "[TKT-0601] We received your request: Title of TKT-0601",
        "[TKT-0601] Your request is resolved: Title of TKT-0601",
    ], "one each, a redelivered resolution does not mail twice"
    [resolved] = by_subject("is resolved")
    assert resolved["Message-ID"] == f"<resolved.6.{ticket.id}@ticketstream.local>"
    assert resolved["In-Reply-To"] == "<root601@example.com>"
    assert resolved["Reply-To"] == "support+TKT-0601@ticketstream.local"
    text, html = text_and_html(resolved)
    link = next(word for word in text.split() if word.startswith("https://in.example.test/v1/csat/"))
    claims = verify_csat_token(link.rsplit("/", 1)[1], secret=settings.jwt_secret, now=datetime.now(UTC))
    assert (claims.ticket_id, claims.ref) == (ticket.id, "TKT-0601")
    assert claims.expires_at - claims.issued_at == timedelta(days=14)
    assert link in html and "Acme Help" in html
    [waiting] = by_subject("Over to you")
    assert text_and_html(waiting)[0].strip() == "Acme Help waits for Kim Example"
    staff = sorted((m["To"], m["Subject"]) for m in relay.messages if m["To"] != "kim@example.com")
    assert staff == [
        ("dana@staff.example", "[TKT-0601] New ticket: Title of TKT-0601"),
        ("erin@staff.example", "[TKT-0601] Assigned to you: Title of TKT-0601"),
        ("erin@staff.example", "[TKT-0601] dana mentioned you"),
        ("lee@staff.example", "[TKT-0601] Escalated to level 1: Title of TKT-0601"),
        ("lee@staff.example", "[TKT-0601] Low satisfaction score: 1 of 5"),
        ("max@staff.example", "[TKT-0601] Low satisfaction score: 1 of 5"),
    ]
    for message in relay.messages:
        assert marker not in message.as_string(), "an internal note's text reached an email"
    assert {n["kind"] for n in lee["items"]} >= {"ticket.escalated", "csat.detractor"}
    learnt = {
        json.loads(r.value).get("message_id") for r in delivered if r.headers["ce_type"] == "notify.delivered"
    }
    assert resolved["Message-ID"] in learnt and waiting["Message-ID"] in learnt
    staff_ids = {m["Message-ID"] for m in relay.messages if m["To"] != "kim@example.com"}
    assert not staff_ids & learnt, "tickets must not thread onto staff mail"


async def test_the_directory_copy_keeps_the_newest_version_and_honours_tombstones(infra_env):
    settings = settings_from(infra_env, NotifySettings)
    client = create_mongo_client(settings)
    try:
        directory = DirectoryStore(client[settings.database_name])
        t0 = datetime.now(UTC)
        team_v1 = DirectoryTeam(id="ops", name="Ops", lead_ids=["lee"], occurred_at=t0)
        team_v2 = DirectoryTeam(id="ops", name="Ops", lead_ids=["kai"], occurred_at=t0 + timedelta(seconds=1))
        applied = [await directory.apply(e) for e in (team_v1, team_v2, team_v1)]  # a replay of v1 last
        await directory.apply(agent("kai", "team_lead", ["ops"], t0))
        await directory.apply(agent("lee", "team_lead", ["ops"], t0))
        gone = agent("lee", "team_lead", ["ops"], t0 + timedelta(seconds=1))
        await directory.apply(gone.model_copy(update={"deleted": True}))
        people = await directory.slice(team_id="ops", member_ids=["lee"])
    finally:
        await client.close()
    assert applied == [True, True, False]
    assert people.teams["ops"].lead_ids == ("kai",)
    assert sorted(people.members) == ["kai"], "a deleted agent is no longer in the directory"
