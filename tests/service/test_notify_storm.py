"""notify's storm protection against the real broker and database: a thousand emails to one
address become a bounded number of messages with nothing lost, the conversation still goes out
one by one, and a redelivered event mails once."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.helpers import (
    eventually,
    prepare_topics,
    publish_events,
    running,
    settings_from,
    ticket_created,
    ticket_snapshot,
)
from tests.service.test_sla_notify_analytics import smtp_relay  # noqa: F401 - a fixture
from ticketstream.contracts.events import (
    InteractionSummary,
    SlaWaitingReminderDue,
    TicketInteractionAdded,
    TicketStatusChanged,
)
from ticketstream.contracts.models import InteractionType, TicketStatus
from ticketstream_notify.app import create_app as create_notify
from ticketstream_notify.settings import Settings as NotifySettings

EVENTS = 1000
LIMIT = 5
WINDOW_SECONDS = 30
REPLIES = 20
WAITING_STATUS_SUBJECT = "We need a little more from you"


async def waiting_status_mails(relay: Any, to: str) -> list[Any]:
    """The status email going WAITING_ON_CUSTOMER sends: it counts against the budget like any
    mail that is not the conversation, so the tests wait for it before the storm."""
    return [m for m in relay.messages if m["To"] == to and WAITING_STATUS_SUBJECT in m["Subject"]]


def went_waiting(ticket: Any, since: datetime) -> TicketStatusChanged:
    waiting = ticket.model_copy(
        update={"status": TicketStatus.WAITING_ON_CUSTOMER, "version": 2, "updated_at": since}
    )
    return TicketStatusChanged(
        ticket_id=ticket.id,
        ref=ticket.ref,
        sequence=2,
        occurred_at=since,
        ticket=waiting,
        from_status=TicketStatus.OPEN,
        to_status=TicketStatus.WAITING_ON_CUSTOMER,
    )


async def seen_waiting(app: Any, ticket: Any) -> bool:
    """Check-ins are only written for a ticket notify knows to be waiting on its customer."""
    known = await app.state.notify_store.ticket(ticket.id)
    return known is not None and known[0].status is TicketStatus.WAITING_ON_CUSTOMER


def reminder(ticket: Any, since: datetime) -> SlaWaitingReminderDue:
    return SlaWaitingReminderDue(
        ticket_id=ticket.id,
        ref=ticket.ref,
        waiting_since=since,
        close_at=since + timedelta(days=2),
        occurred_at=since,
    )


def public_reply(ticket: Any, n: int) -> TicketInteractionAdded:
    waiting = ticket.model_copy(update={"status": TicketStatus.WAITING_ON_CUSTOMER, "version": 2})
    return TicketInteractionAdded(
        ticket_id=ticket.id,
        ref=ticket.ref,
        sequence=2,
        occurred_at=datetime.now(UTC),
        ticket=waiting,
        interaction=InteractionSummary(
            id=f"reply-{n}",
            type=InteractionType.EMAIL_OUTBOUND,
            customer_visible=True,
            body_text=f"Answer number {n}",
            message_id=f"<reply{n}.{ticket.id}@ticketstream.local>",
            subject=f"[{ticket.ref}] Answer {n}",
            recipients=[ticket.requester.email],
            created_at=datetime.now(UTC),
        ),
    )


# A thousand events through one consumer take minutes on the shared development machine.
@pytest.mark.timeout(900)
async def test_a_thousand_emails_to_one_address_become_a_bounded_digest_and_nothing_is_lost(
    infra_env,
    smtp_relay,  # noqa: F811
):
    relay, smtp_url = smtp_relay
    settings = settings_from(
        infra_env,
        NotifySettings,
        smtp_url=smtp_url,
        mail_limit_per_recipient=LIMIT,
        mail_limit_window_seconds=WINDOW_SECONDS,
    )
    await prepare_topics(settings)
    ticket = ticket_snapshot(ref="TKT-0901", requester="storm@example.com", thread="<root901@example.com>")
    since = datetime.now(UTC)
    app = create_notify(settings)
    async with running(app):
        await publish_events(settings, [ticket_created(ticket), went_waiting(ticket, since)])
        await eventually(lambda: seen_waiting(app, ticket))
        await eventually(lambda: waiting_status_mails(relay, "storm@example.com"))
        ids = [f"storm-{n}" for n in range(EVENTS)]
        # Each check-in event once, the first fifty a second time (at-least-once delivery), and the
        # agent's public replies in the middle of the storm.
        await publish_events(settings, [reminder(ticket, since)] * EVENTS, event_ids=ids)
        await publish_events(settings, [public_reply(ticket, n) for n in range(REPLIES)])
        await publish_events(settings, [reminder(ticket, since)] * 50, event_ids=ids[:50])
        mails = app.state.platform.database["mails"]

        async def all_settled() -> Counter[str] | None:
            statuses = Counter([d["status"] async for d in mails.find({"kind": "waiting.checkin"})])
            done = statuses["sent"] + statuses["digested"] == EVENTS
            digests_out = await mails.count_documents({"kind": "digest", "status": {"$ne": "sent"}}) == 0
            return statuses if done and digests_out else None

        statuses = await eventually(all_settled, timeout=400, interval=0.5)
        await asyncio.sleep(1)  # a duplicate send would land here
        received = list(relay.messages)
        stored_digests = await mails.find({"kind": "digest"}).to_list()
        sent_alone = [
            d["delivered_at"] async for d in mails.find({"kind": "waiting.checkin", "status": "sent"})
        ]
    to_storm = [m for m in received if m["To"] == "storm@example.com"]
    check_ins = [m for m in to_storm if "Do you still need help?" in m["Subject"]]
    digest_mails = [m for m in to_storm if re.fullmatch(r"\[TKT-0901\] \d+ updates", m["Subject"])]
    replies = [m for m in to_storm if "] Answer " in m["Subject"]]
    acknowledgements = [m for m in to_storm if "We received your request" in m["Subject"]]
    status_mails = [m for m in to_storm if WAITING_STATUS_SUBJECT in m["Subject"]]
    listed = sum(line.startswith("- ") for m in digest_mails for line in m.get_payload().splitlines())
    assert len(to_storm) == (
        len(check_ins) + len(digest_mails) + len(replies) + len(acknowledgements) + len(status_mails)
    )
    assert len(status_mails) == 1
    assert len(replies) == REPLIES, "public replies are the conversation: never held"
    assert len({m["Message-ID"] for m in replies}) == REPLIES
    assert len(acknowledgements) == 1
    assert len(check_ins) + listed == EVENTS, "every event's email is sent alone or listed in a digest"
    assert len(digest_mails) == len(stored_digests) >= 1
    assert sum(d["digest_items"] for d in stored_digests) == statuses["digested"] == listed
    # Each window lets LIMIT check-ins through. A window starts when the previous one has ended,
    # so however slowly the storm is worked off, the check-ins sent alone fall into at most
    # span / WINDOW + 2 windows (a window that is not full ends without a digest).
    span = (max(sent_alone) - min(sent_alone)).total_seconds()
    assert len(check_ins) == len(sent_alone)
    assert len(check_ins) <= LIMIT * (int(span // WINDOW_SECONDS) + 2)
    assert len(check_ins) + len(digest_mails) < EVENTS // 10


async def test_held_mail_survives_a_restart_and_goes_out_in_one_digest(infra_env, smtp_relay):  # noqa: F811
    relay, smtp_url = smtp_relay
    settings = settings_from(
        infra_env, NotifySettings, smtp_url=smtp_url, mail_limit_per_recipient=2, mail_limit_window_seconds=20
    )
    await prepare_topics(settings)
    ticket = ticket_snapshot(ref="TKT-0902", requester="held@example.com", thread="<root902@example.com>")
    since = datetime.now(UTC)
    first = create_notify(settings)
    async with running(first):
        await publish_events(settings, [ticket_created(ticket), went_waiting(ticket, since)])
        await eventually(lambda: seen_waiting(first, ticket))
        # The waiting-status email takes the first of the window's two places, h1 the second.
        await eventually(lambda: waiting_status_mails(relay, "held@example.com"))
        await publish_events(settings, [reminder(ticket, since)] * 3, event_ids=["h1", "h2", "h3"])
        mails = first.state.platform.database["mails"]

        async def two_held() -> bool:
            return await mails.count_documents({"kind": "waiting.checkin", "status": "held"}) == 2

        await eventually(two_held)
    # The restarted instance only has to send: no need to wait for its consumer group to settle.
    second = create_notify(settings)
    async with second.router.lifespan_context(second):
        await asyncio.wait_for(second.state.platform.connected.wait(), timeout=180)

        async def digest_sent() -> Any:
            return [m for m in relay.messages if m["Subject"] == "[TKT-0902] 2 updates"] or None

        # The window (20 s) ends after the first instance stopped: the second one sends the digest.
        [digest] = await eventually(digest_sent, timeout=60)
        await asyncio.sleep(1)
        subjects = [m["Subject"] for m in relay.messages]
    assert subjects.count("[TKT-0902] Do you still need help? Title of TKT-0902") == 1
    assert subjects.count("[TKT-0902] 2 updates") == 1
    assert digest["Reply-To"] == "support+TKT-0902@ticketstream.local"
    assert sum(line.startswith("- ") for line in digest.get_payload().splitlines()) == 2
