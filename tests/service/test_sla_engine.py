"""The SLA engine against the real broker and database, with policies of a few seconds."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
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
from ticketstream.auth import Role
from ticketstream.contracts import topics
from ticketstream.contracts.events import (
    InteractionSummary,
    TicketEvent,
    TicketInteractionAdded,
    TicketStatusChanged,
    TicketUpdated,
)
from ticketstream.contracts.models import InteractionType, TicketSnapshot, TicketStatus
from ticketstream_sla.app import create_app as create_sla
from ticketstream_sla.settings import Settings as SlaSettings

FAST = "fast"


def fast_policy(**changes: Any) -> dict[str, Any]:
    """An URGENT policy for category 'fast' (so it wins over the default) with seconds-long targets."""
    return {
        "id": "fast-urgent",
        "name": "Fast urgent",
        "priority": "URGENT",
        "category": FAST,
        "first_response_seconds": 2,
        "resolution_seconds": 30,
        "warning_fraction": 0.5,
        **changes,
    }


def fast_ticket(ref: str) -> TicketSnapshot:
    return ticket_snapshot(ref=ref, priority="URGENT").model_copy(update={"category": FAST})


class Timeline:
    """The follow-up events of one ticket, with sequences and snapshots that move along."""

    def __init__(self, ticket: TicketSnapshot) -> None:
        self.ticket = ticket

    def _next(self, **changes: Any) -> dict[str, Any]:
        now = datetime.now(UTC)
        self.ticket = self.ticket.model_copy(
            update={**changes, "version": self.ticket.version + 1, "updated_at": now}
        )
        return {
            "ticket_id": self.ticket.id,
            "ref": self.ticket.ref,
            "sequence": self.ticket.version,
            "actor": "alice",
            "occurred_at": now,
            "ticket": self.ticket,
        }

    def status(self, to: TicketStatus) -> TicketEvent:
        came_from = self.ticket.status
        return TicketStatusChanged(**self._next(status=to), from_status=came_from, to_status=to)

    def public_reply(self) -> TicketEvent:
        now = datetime.now(UTC)
        reply = InteractionSummary(
            id=f"i-{self.ticket.version}",
            type=InteractionType.EMAIL_OUTBOUND,
            customer_visible=True,
            created_at=now,
        )
        return TicketInteractionAdded(**self._next(first_response_at=now), interaction=reply)


def admin(settings: SlaSettings) -> dict[str, str]:
    return bearer(settings, Role.ADMIN, sub="ada")


async def sla_events(settings: SlaSettings, *, until: Any, timeout: float = 20.0) -> list[dict[str, Any]]:
    records = await read_topic(
        settings.kafka_bootstrap, settings.topic(topics.SLA), until=until, timeout=timeout
    )
    return [
        {"type": record.headers["ce_type"], "event_id": record.headers["ce_id"], **json.loads(record.value)}
        for record in records
    ]


def types_of(records: list[Any]) -> list[str]:
    return [record.headers["ce_type"] for record in records]


def count(kind: str) -> Any:
    return lambda records: types_of(records).count(kind)


async def test_a_ticket_warns_then_breaches_at_its_due_times_once_and_the_view_says_so(infra_env):
    settings = settings_from(infra_env, SlaSettings)
    await prepare_topics(settings)
    async with running(create_sla(settings)) as client:
        ticket = fast_ticket("TKT-0100")
        created = await client.post("/v1/policies", json=fast_policy(), headers=admin(settings))
        assert created.status_code == 201, created.text
        await publish_events(
            settings, [ticket_created(ticket), ticket_created(ticket)], event_ids=["c1", "c1"]
        )
        await sla_events(settings, until=lambda r: count("sla.breached")(r) >= 1)
        await asyncio.sleep(1.0)  # a second warning or breach would arrive here
        events = await sla_events(settings, until=lambda r: count("sla.breached")(r) >= 1)
        view = (await client.get("/v1/clocks/TKT-0100", headers=bearer(settings))).json()
    assert Counter(event["type"] for event in events) == {
        "sla.clock_started": 2,
        "sla.warning": 1,
        "sla.breached": 1,
    }
    by_type = {event["type"]: event for event in events if event["target"] == "first_response"}
    due = ticket.created_at + timedelta(seconds=2)
    assert _same(by_type["sla.clock_started"]["due_at"], due)
    assert _same(by_type["sla.warning"]["occurred_at"], ticket.created_at + timedelta(seconds=1))
    assert _same(by_type["sla.breached"]["occurred_at"], due)
    assert by_type["sla.breached"]["policy_id"] == "fast-urgent"
    targets = {target["target"]: target for target in view["targets"]}
    assert targets["first_response"]["state"] == "breached"
    assert targets["first_response"]["status"] == "Breached"
    assert targets["first_response"]["remaining_seconds"] <= 0
    assert targets["resolution"]["status"] == "On Track"
    assert targets["resolution"]["policy_version"] == 1


async def test_a_public_reply_before_the_target_meets_it_and_nothing_breaches(infra_env):
    settings = settings_from(infra_env, SlaSettings)
    await prepare_topics(settings)
    async with running(create_sla(settings)) as client:
        ticket = fast_ticket("TKT-0101")
        timeline = Timeline(ticket)
        await client.post("/v1/policies", json=fast_policy(first_response_seconds=4), headers=admin(settings))
        await publish_events(settings, [ticket_created(ticket), timeline.public_reply()])
        await sla_events(settings, until=lambda r: count("sla.met")(r) >= 1)
        await asyncio.sleep(4.5)  # past the first-response due time
        events = await sla_events(settings, until=lambda r: count("sla.met")(r) >= 1)
        view = (await client.get("/v1/clocks/TKT-0101", headers=bearer(settings))).json()
    kinds = [(event["type"], event["target"]) for event in events]
    assert ("sla.met", "first_response") in kinds
    assert not [kind for kind in kinds if kind[0] in {"sla.breached", "sla.warning"}]
    first = next(target for target in view["targets"] if target["target"] == "first_response")
    assert (first["state"], first["status"]) == ("met", "Met")
    assert 0 <= first["elapsed_seconds"] <= 4


async def test_waiting_on_the_customer_pauses_the_clocks_until_the_customer_replies(infra_env):
    settings = settings_from(infra_env, SlaSettings)
    await prepare_topics(settings)
    async with running(create_sla(settings)) as client:
        ticket = fast_ticket("TKT-0102")
        timeline = Timeline(ticket)
        await client.post("/v1/policies", json=fast_policy(first_response_seconds=3), headers=admin(settings))
        await publish_events(
            settings, [ticket_created(ticket), timeline.status(TicketStatus.WAITING_ON_CUSTOMER)]
        )
        await sla_events(settings, until=lambda r: count("sla.clock_paused")(r) >= 2)
        await asyncio.sleep(3.5)  # longer than the whole target: a paused clock must not breach
        paused_view = (await client.get("/v1/clocks/TKT-0102", headers=bearer(settings))).json()
        await publish_events(settings, [timeline.status(TicketStatus.OPEN)])
        events = await sla_events(settings, until=lambda r: count("sla.breached")(r) >= 1)
        explained = (await client.get("/v1/clocks/TKT-0102/explain", headers=bearer(settings))).json()
    kinds = [event["type"] for event in events if event["target"] == "first_response"]
    assert kinds == [
        "sla.clock_started",
        "sla.clock_paused",
        "sla.clock_resumed",
        "sla.warning",
        "sla.breached",
    ]
    assert {target["status"] for target in paused_view["targets"]} == {"Paused"}
    assert all(target["due_at"] is None for target in paused_view["targets"])
    first = next(target for target in explained["targets"] if target["target"] == "first_response")
    reasons = [(stretch["counted"], stretch["reason"]) for stretch in first["stretches"]]
    assert (False, "paused (ticket WAITING_ON_CUSTOMER)") in reasons
    assert [change["change"] for change in first["history"]] == [
        "started",
        "paused",
        "resumed",
        "warned",
        "breached",
    ]
    paused = next(s for s in first["stretches"] if not s["counted"])
    assert paused["seconds"] >= 3, "the pause lasted the whole sleep and did not count"
    assert first["counted_seconds"] == first["target_seconds"] == 3


async def test_the_waiting_automations_remind_then_close_unless_the_customer_replies(infra_env):
    settings = settings_from(
        infra_env, SlaSettings, sla_waiting_reminder_seconds=1, sla_waiting_close_seconds=1
    )
    await prepare_topics(settings)
    async with running(create_sla(settings)):
        silent, answering = ticket_snapshot(ref="TKT-0103"), ticket_snapshot(ref="TKT-0104")
        silent_line, answering_line = Timeline(silent), Timeline(answering)
        await publish_events(
            settings,
            [
                ticket_created(silent),
                ticket_created(answering),
                silent_line.status(TicketStatus.WAITING_ON_CUSTOMER),
                answering_line.status(TicketStatus.WAITING_ON_CUSTOMER),
                answering_line.status(TicketStatus.OPEN),  # the customer replied
            ],
        )
        await sla_events(settings, until=lambda r: count("sla.waiting_auto_close_due")(r) >= 1)
        await asyncio.sleep(2.5)  # the answering ticket's timers would have fired by now
        events = await sla_events(settings, until=lambda r: count("sla.waiting_auto_close_due")(r) >= 1)
    waiting = [event for event in events if event["type"].startswith("sla.waiting")]
    assert [(event["type"], event["ref"]) for event in waiting] == [
        ("sla.waiting_reminder_due", "TKT-0103"),
        ("sla.waiting_auto_close_due", "TKT-0103"),
    ]
    reminder, close = waiting
    since = datetime.fromisoformat(reminder["waiting_since"])
    assert _same(reminder["occurred_at"], since + timedelta(seconds=1))
    assert _same(reminder["close_at"], since + timedelta(seconds=2))
    assert _same(close["occurred_at"], since + timedelta(seconds=2))


async def test_two_replicas_share_the_timer_shards_and_fire_every_timer_once(infra_env):
    settings = settings_from(infra_env, SlaSettings, sla_timer_shards=8)
    await prepare_topics(settings)
    first, second = create_sla(settings), create_sla(settings)
    async with running(first) as client, running(second):
        tickets = [fast_ticket(f"TKT-{200 + index:04d}") for index in range(12)]
        await client.post("/v1/policies", json=fast_policy(first_response_seconds=2), headers=admin(settings))

        async def shared_out() -> bool:
            a, b = first.state.timer_scheduler.shards, second.state.timer_scheduler.shards
            return len(a) == len(b) == 4 and not a & b

        await eventually(shared_out, timeout=20)
        await publish_events(settings, [ticket_created(ticket) for ticket in tickets])
        await sla_events(settings, until=lambda r: count("sla.breached")(r) >= len(tickets), timeout=40)
        await asyncio.sleep(1.5)
        events = await sla_events(settings, until=lambda r: count("sla.breached")(r) >= len(tickets))
    # Delivery is at least once (a record may repeat with its id); each breach is one event.
    distinct = {event["event_id"]: event for event in events}.values()
    breaches = Counter(event["ref"] for event in distinct if event["type"] == "sla.breached")
    warnings = Counter(event["ref"] for event in distinct if event["type"] == "sla.warning")
    assert breaches == {ticket.ref: 1 for ticket in tickets}
    assert warnings == {ticket.ref: 1 for ticket in tickets}


async def test_timers_due_while_no_replica_runs_fire_once_after_the_start(infra_env):
    settings = settings_from(infra_env, SlaSettings)
    await prepare_topics(settings)
    async with running(create_sla(settings)) as client:
        ticket = fast_ticket("TKT-0105")
        await client.post("/v1/policies", json=fast_policy(first_response_seconds=3), headers=admin(settings))
        await publish_events(settings, [ticket_created(ticket)])
        await sla_events(settings, until=lambda r: count("sla.clock_started")(r) >= 2)
    await asyncio.sleep(3.5)  # the warning and the breach fall due while the service is down
    async with running(create_sla(settings)):
        await sla_events(settings, until=lambda r: count("sla.breached")(r) >= 1)
        await asyncio.sleep(1.0)
        events = await sla_events(settings, until=lambda r: count("sla.breached")(r) >= 1)
    kinds = Counter(event["type"] for event in events if event["target"] == "first_response")
    assert kinds == {"sla.clock_started": 1, "sla.warning": 1, "sla.breached": 1}


async def test_policies_are_validated_with_every_reason_and_versioned(infra_env):
    settings = settings_from(infra_env, SlaSettings)
    await prepare_topics(settings)
    async with running(create_sla(settings)) as client:
        ticket = fast_ticket("TKT-0106")
        bad = await client.post(
            "/v1/policies",
            json=fast_policy(resolution_seconds=1, warning_fraction=1.5, calendar_id="nowhere"),
            headers=admin(settings),
        )
        by_agent = await client.post("/v1/policies", json=fast_policy(), headers=bearer(settings))
        created = await client.post(
            "/v1/policies",
            json=fast_policy(first_response_seconds=600, resolution_seconds=3000),
            headers=admin(settings),
        )
        again = await client.post("/v1/policies", json=fast_policy(), headers=admin(settings))
        await publish_events(settings, [ticket_created(ticket)])
        await sla_events(settings, until=lambda r: count("sla.clock_started")(r) >= 2)
        body = {
            key: value
            for key, value in fast_policy(first_response_seconds=300, resolution_seconds=3000).items()
            if key != "id"
        }
        changed = await client.put(
            "/v1/policies/fast-urgent?apply_to_running=true", json=body, headers=admin(settings)
        )
        events = await sla_events(settings, until=lambda r: count("sla.clock_retargeted")(r) >= 1)
        versions = (await client.get("/v1/policies/fast-urgent/versions", headers=bearer(settings))).json()
        view = (await client.get("/v1/clocks/TKT-0106", headers=bearer(settings))).json()
        missing = await client.put("/v1/policies/nope", json=body, headers=admin(settings))
    assert bad.status_code == 422
    problems = bad.json()["error"]["details"]
    assert any("resolution target cannot be shorter" in problem for problem in problems)
    assert any("warning_fraction" in problem for problem in problems)
    assert any("no calendar nowhere" in problem for problem in problems)
    assert by_agent.status_code == 403
    assert created.status_code == 201 and created.json()["version"] == 1
    assert again.status_code == 409
    assert changed.status_code == 200
    assert changed.json()["policy"]["version"] == 2
    assert changed.json()["retargeted_clocks"] == 1, "only first response changed its target"
    assert [version["first_response_seconds"] for version in versions] == [600, 300]
    retargeted = next(event for event in events if event["type"] == "sla.clock_retargeted")
    assert retargeted["target_seconds"] == 300
    first = next(target for target in view["targets"] if target["target"] == "first_response")
    assert (first["target_seconds"], first["policy_version"]) == (300, 2)
    assert missing.status_code == 404


async def test_business_calendars_are_validated_stored_and_kept_while_in_use(infra_env):
    settings = settings_from(infra_env, SlaSettings)
    await prepare_topics(settings)
    closed_all_week = {
        "id": "closed-now",
        "name": "Office",
        "time_zone": "Pacific/Kiritimati",
        "shifts": [],
        "country": "DE",
    }
    async with running(create_sla(settings)) as client:
        no_shifts = await client.post("/v1/calendars", json=closed_all_week, headers=admin(settings))
        bad_zone = await client.post(
            "/v1/calendars",
            json={
                **closed_all_week,
                "time_zone": "Mars/Olympus",
                "shifts": [{"weekday": 0, "start": "09:00", "end": "17:00"}],
            },
            headers=admin(settings),
        )
        office = {
            **closed_all_week,
            "id": "office",
            "time_zone": "Europe/Berlin",
            "shifts": [{"weekday": day, "start": "09:00", "end": "17:00"} for day in range(5)],
            "holidays": ["2026-12-31"],
        }
        created = await client.post("/v1/calendars", json=office, headers=admin(settings))
        policy = await client.post(
            "/v1/policies", json=fast_policy(calendar_id="office"), headers=admin(settings)
        )
        in_use = await client.delete("/v1/calendars/office", headers=admin(settings))
        stored = (await client.get("/v1/calendars/office", headers=bearer(settings))).json()
    assert no_shifts.status_code == 422
    assert "at least one shift" in no_shifts.json()["error"]["message"]
    assert bad_zone.status_code == 422
    assert created.status_code == 201, created.text
    assert policy.status_code == 201
    assert in_use.status_code == 409
    assert "fast-urgent" in in_use.json()["error"]["message"]
    assert (stored["holidays"], stored["country"], stored["version"]) == (["2026-12-31"], "DE", 1)
    assert len(stored["shifts"]) == 5


async def test_at_risk_lists_running_targets_due_within_the_window_soonest_first(infra_env):
    settings = settings_from(infra_env, SlaSettings)
    await prepare_topics(settings)
    earlier = datetime.now(UTC) - timedelta(minutes=50)
    earlier_ticket = ticket_snapshot(ref="TKT-0107", priority="URGENT", created_at=earlier)
    urgent = ticket_snapshot(ref="TKT-0108", priority="URGENT")
    low = ticket_snapshot(ref="TKT-0109", priority="LOW")
    earlier_ticket = earlier_ticket.model_copy(update={"assigned_team": "billing"})
    async with running(create_sla(settings)) as client:
        await publish_events(settings, [ticket_created(t) for t in (earlier_ticket, urgent, low)])
        await sla_events(settings, until=lambda r: count("sla.clock_started")(r) >= 6)

        async def listed() -> Any:
            answer = (await client.get("/v1/at-risk?within=2h", headers=bearer(settings))).json()
            return answer if len(answer["items"]) >= 2 else None

        at_risk = await eventually(listed)
        billing = (await client.get("/v1/at-risk?within=2h&team=billing", headers=bearer(settings))).json()
        bad = await client.get("/v1/at-risk?within=soon", headers=bearer(settings))
    refs = [(item["ref"], item["target"]) for item in at_risk["items"]]
    assert refs == [("TKT-0107", "first_response"), ("TKT-0108", "first_response")], "soonest first"
    assert 0 < at_risk["items"][0]["seconds_to_due"] <= 600
    assert at_risk["items"][0]["status"] == "Warning"
    assert at_risk["within_seconds"] == 7200
    assert {item["ref"] for item in billing["items"]} == {"TKT-0107"}
    assert bad.status_code == 422


def _same(stamp: str, moment: datetime) -> bool:
    """The same instant, to the millisecond MongoDB keeps."""
    return abs(datetime.fromisoformat(stamp) - moment) < timedelta(milliseconds=1)


async def test_clocks_of_a_ticket_no_policy_covers_any_more_still_stop_and_never_breach(infra_env):
    settings = settings_from(infra_env, SlaSettings)
    await prepare_topics(settings)
    async with running(create_sla(settings)) as client:
        await client.post("/v1/policies", json=fast_policy(first_response_seconds=3), headers=admin(settings))
        ticket = fast_ticket("TKT-0110")
        timeline = Timeline(ticket)
        await publish_events(settings, [ticket_created(ticket)])
        await sla_events(settings, until=lambda r: count("sla.clock_started")(r) >= 2)
        for policy_id in ("fast-urgent", "default-urgent"):  # nothing covers URGENT tickets now
            current = (await client.get(f"/v1/policies/{policy_id}", headers=admin(settings))).json()
            body = {key: value for key, value in current.items() if key not in {"id", "version"}}
            changed = await client.put(
                f"/v1/policies/{policy_id}", json={**body, "enabled": False}, headers=admin(settings)
            )
            assert changed.status_code == 200, changed.text
        await publish_events(settings, [timeline.status(TicketStatus.RESOLVED)])
        await sla_events(settings, until=lambda r: count("sla.met")(r) >= 1)
        await asyncio.sleep(3)  # past the first-response due time
        events = await sla_events(settings, until=lambda r: count("sla.met")(r) >= 1)
    kinds = [(event["type"], event["target"]) for event in events]
    assert ("sla.met", "resolution") in kinds
    assert ("sla.clock_cancelled", "first_response") in kinds
    assert not [kind for kind in kinds if kind[0] in {"sla.warning", "sla.breached"}]


async def test_bad_administration_input_is_refused_with_a_reason_never_a_500(infra_env):
    settings = settings_from(infra_env, SlaSettings)
    await prepare_topics(settings)
    weekday_only = {
        "id": "mondays",
        "name": "Mondays",
        "time_zone": "Europe/Berlin",
        "shifts": [{"weekday": 0, "start": "09:00", "end": "17:00"}],
    }
    async with running(create_sla(settings)) as client:
        huge = await client.post(
            "/v1/policies", json=fast_policy(first_response_seconds=10**20), headers=admin(settings)
        )
        long_window = await client.get("/v1/at-risk?within=99999999999d", headers=bearer(settings))
        no_country = await client.post(
            "/v1/calendars", json={**weekday_only, "subdivision": "BY"}, headers=admin(settings)
        )
        created = await client.post("/v1/calendars", json=weekday_only, headers=admin(settings))
        every_monday = [
            f"{year}-{month:02d}-{day:02d}"
            for year in (2026, 2027, 2028)
            for month in range(1, 13)
            for day in range(1, 32)
            if _monday(year, month, day)
        ]
        closed = await client.put(
            "/v1/calendars/mondays",
            json={
                key: value for key, value in {**weekday_only, "holidays": every_monday}.items() if key != "id"
            },
            headers=admin(settings),
        )
        stored = (await client.get("/v1/calendars/mondays", headers=bearer(settings))).json()
    assert huge.status_code == 422
    assert long_window.status_code == 422 and "366 days" in long_window.json()["error"]["message"]
    assert (
        no_country.status_code == 422
        and "subdivision needs its country" in no_country.json()["error"]["message"]
    )
    assert created.status_code == 201
    assert closed.status_code == 422 and "no business hours" in closed.json()["error"]["message"]
    assert stored["version"] == 1, "a refused change is not stored"


def _monday(year: int, month: int, day: int) -> bool:
    try:
        return datetime(year, month, day).weekday() == 0
    except ValueError:
        return False


async def test_at_risk_follows_the_team_a_ticket_is_assigned_to_later(infra_env):
    settings = settings_from(infra_env, SlaSettings)
    await prepare_topics(settings)
    async with running(create_sla(settings)) as client:
        ticket = ticket_snapshot(ref="TKT-0111", priority="URGENT")
        timeline = Timeline(ticket)
        await publish_events(settings, [ticket_created(ticket)])
        await sla_events(settings, until=lambda r: count("sla.clock_started")(r) >= 2)
        moved = TicketUpdated(**timeline._next(assigned_team="billing"), changed_fields=["assigned_team"])
        await publish_events(settings, [moved])

        async def billing() -> Any:
            answer = (await client.get("/v1/at-risk?within=2h&team=billing", headers=bearer(settings))).json()
            return answer["items"] or None

        items = await eventually(billing)
    assert [(item["ref"], item["team"]) for item in items] == [("TKT-0111", "billing")]


async def test_two_replicas_firing_the_same_due_timers_at_once_publish_each_event_once(infra_env):
    settings = settings_from(infra_env, SlaSettings)
    await prepare_topics(settings)
    first, second = create_sla(settings), create_sla(settings)
    async with running(first) as client, running(second):
        long_targets = fast_policy(first_response_seconds=600, resolution_seconds=1200)
        await client.post("/v1/policies", json=long_targets, headers=admin(settings))
        tickets = [fast_ticket(f"TKT-{300 + index:04d}") for index in range(10)]
        await publish_events(settings, [ticket_created(ticket) for ticket in tickets])
        await sla_events(settings, until=lambda r: count("sla.clock_started")(r) >= 20)
        one, other = first.state.sla_store, second.state.sla_store
        fired_by: list[tuple[int, int]] = []
        # As if a lease changed hands mid-flight: both replicas fire every pending timer now,
        # three times over (warning, then breach, then nothing left).
        for _ in range(3):
            due = await one.due_timers(
                range(settings.sla_timer_shards), until=datetime.now(UTC) + timedelta(days=1), limit=100
            )
            timers = [timer for timer, _ in due]
            a, b = await asyncio.gather(one.fire(timers), other.fire(list(reversed(timers))))
            assert not {timer.id for timer in a} & {timer.id for timer in b}
            fired_by.append((len(a), len(b)))
        events = await sla_events(settings, until=lambda r: count("sla.breached")(r) >= 20)
    distinct = {event["event_id"]: event for event in events}.values()
    kinds = Counter(event["type"] for event in distinct)
    assert (kinds["sla.warning"], kinds["sla.breached"]) == (20, 20)
    assert [a + b for a, b in fired_by] == [20, 20, 0]
