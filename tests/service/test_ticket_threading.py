"""How inbound messages thread onto tickets, on the real broker and database: Message-IDs first,
ticket refs only from the ticket's own people, auto-replies recorded without effect, portal forms
and chats as their own kind of ticket; every decision with its reason."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.helpers import (
    bearer,
    eventually,
    prepare_topics,
    publish_events,
    read_topic,
    running,
    settings_from,
)
from ticketstream.auth import Role
from ticketstream.broker import EventProducer
from ticketstream.contracts import encode_event, topics
from ticketstream.contracts.events import (
    ChatAuthorRole,
    ChatLine,
    InboundChannel,
    InboundMessageReceived,
    NotifyDelivered,
)
from ticketstream.contracts.models import Person, Priority, TicketType
from ticketstream.db import create_mongo_client
from ticketstream_tickets.app import create_app
from ticketstream_tickets.settings import Settings
from ticketstream_tickets.store_threading import MESSAGE_IDS

KIM = Person(email="kim@example.com", name="Kim Example")
LOU = Person(email="lou@example.com", name="Lou Colleague")
EVE = Person(email="eve@example.net", name="Eve Stranger")
NEW_TICKET = "no known Message-ID, plus-address or subject ref: new ticket"


@pytest.fixture
def settings(infra_env) -> Settings:
    return settings_from(infra_env, Settings)


def email(
    *,
    sender: Person = KIM,
    subject: str = "Printer on fire",
    in_reply_to: str | None = None,
    references: list[str] | None = None,
    thread: str | None = None,
    **fields: Any,
) -> InboundMessageReceived:
    message_id = f"<{uuid.uuid4().hex}@client.example>"
    return InboundMessageReceived.model_validate(
        {
            "inbound_id": str(uuid.uuid4()),
            "channel": InboundChannel.SMTP,
            "message_id": message_id,
            "in_reply_to": in_reply_to,
            "references": references if references is not None else ([in_reply_to] if in_reply_to else []),
            "email_thread_id": thread or in_reply_to or message_id,
            "sender": sender,
            "recipients": ["support@ticketstream.local"],
            "subject": subject,
            "text_body": f"Text of {subject}",
            "received_at": datetime.now(UTC),
            **fields,
        }
    )


async def publish(
    settings: Settings, *events: InboundMessageReceived, key: str, event_ids: list[str] | None = None
) -> None:
    """Inbound events as ingest produces them; one key keeps them in order on one partition."""
    producer = EventProducer(settings)
    await producer.start()
    try:
        messages = [
            encode_event(event, service="ingest", key=key, event_id=event_ids[index] if event_ids else None)
            for index, event in enumerate(events)
        ]
        assert await producer.publish_batch(messages) == [None] * len(messages)
    finally:
        await producer.stop()


async def get_ticket(client, settings, ref: str) -> dict | None:
    response = await client.get(f"/v1/tickets/{ref}", headers=bearer(settings, Role.MANAGER, sub="mia"))
    return response.json() if response.status_code == 200 else None


async def with_interactions(client, settings, ref: str, count: int) -> dict:
    async def probe() -> dict | None:
        ticket = await get_ticket(client, settings, ref)
        return ticket if ticket and len(ticket["interactions"]) >= count else None

    return await eventually(probe)


async def all_tickets(client, settings) -> list[dict]:
    response = await client.get("/v1/tickets?limit=100", headers=bearer(settings, Role.MANAGER, sub="mia"))
    return response.json()["items"]


async def tickets_counted(client, settings, count: int) -> list[dict]:
    async def probe() -> list[dict] | None:
        tickets = await all_tickets(client, settings)
        return tickets if len(tickets) >= count else None

    return await eventually(probe)


def reasons(ticket: dict) -> dict[str, str | None]:
    return {
        item["message_id"]: item["threading_reason"] for item in ticket["interactions"] if item["message_id"]
    }


async def reply_as_agent(client, settings, ref: str, body: str) -> dict:
    response = await client.post(f"/v1/tickets/{ref}/replies", json={"body": body}, headers=bearer(settings))
    assert response.status_code == 201, response.text
    return response.json()["interaction"]


async def set_status(client, settings, ref: str, status: str) -> dict:
    ticket = await get_ticket(client, settings, ref)
    assert ticket is not None
    response = await client.patch(
        f"/v1/tickets/{ref}",
        json={"status": status},
        headers={**bearer(settings), "If-Match": f'"{ticket["version"]}"'},
    )
    assert response.status_code == 200, response.text
    stored = await get_ticket(client, settings, ref)  # as stored: times to the millisecond
    assert stored is not None and stored["status"] == status
    return stored


async def test_replies_thread_by_every_message_id_the_desk_has_seen_or_sent(settings):
    await prepare_topics(settings)
    first = email()
    customer = bearer(settings, Role.CUSTOMER, sub="kim", email=KIM.email)
    async with running(create_app(settings)) as client:
        await publish(settings, first, key="first")
        created = await with_interactions(client, settings, "TKT-0001", 1)
        agent_reply = await reply_as_agent(client, settings, "TKT-0001", "Have you tried turning it off?")
        acknowledgement = f"<ack.{created['id']}@ticketstream.local>"
        await publish_events(
            settings,
            [
                NotifyDelivered(
                    notification_id="n-1",
                    ticket_id=created["id"],
                    ref="TKT-0001",
                    channel="email",
                    recipient=KIM.email,
                    message_id=acknowledgement,
                    occurred_at=datetime.now(UTC),
                )
            ],
        )
        await eventually(lambda: _message_id_known(settings, acknowledgement))

        # The customer's mail client answers in three ways; the middle one names only the agent's
        # reply, under a thread root and an In-Reply-To the desk never saw.
        by_in_reply_to = email(
            subject="Re: Printer on fire",
            in_reply_to=first.message_id,
            text_body="It is off now.\n\n> Have you tried turning it off?",
            reply_text="It is off now.",
        )
        by_references = email(
            subject="Re: Printer on fire",
            in_reply_to="<draft@client.example>",
            references=["<lost-root@client.example>", agent_reply["message_id"], "<draft@client.example>"],
            thread="<lost-root@client.example>",
        )
        to_acknowledgement = email(subject="Re: We received your request", in_reply_to=acknowledgement)
        await publish(
            settings,
            by_in_reply_to,
            by_in_reply_to,  # redelivered: same event id
            by_in_reply_to,  # the same email again under a new event id
            by_references,
            to_acknowledgement,
            key="replies",
            event_ids=["r-1", "r-1", "r-1-again", "r-2", "r-3"],
        )
        ticket = await with_interactions(client, settings, "TKT-0001", 5)
        tickets = await all_tickets(client, settings)
        activity = (await client.get("/v1/tickets/TKT-0001/activity", headers=bearer(settings))).json()[
            "items"
        ]
        portal = (await client.get("/v1/portal/tickets/TKT-0001", headers=customer)).json()

        split = await client.post(
            "/v1/tickets/TKT-0001/split",
            json={
                "interaction_id": _interaction(ticket, by_references.message_id)["id"],
                "title": "Second printer",
            },
            headers=bearer(settings),
        )
        assert split.status_code == 201, split.text
        to_split_off = email(subject="Re: Printer on fire", in_reply_to=by_references.message_id)
        await publish(settings, to_split_off, key="after-split")
        split_ticket = await with_interactions(client, settings, "TKT-0002", 2)

    assert [t["ref"] for t in tickets] == ["TKT-0001"]
    assert [item["type"] for item in ticket["interactions"]] == [
        "EMAIL_INBOUND",
        "EMAIL_OUTBOUND",
        "EMAIL_INBOUND",
        "EMAIL_INBOUND",
        "EMAIL_INBOUND",
    ], "one interaction per email, however often it was delivered"
    assert reasons(ticket) == {
        first.message_id: NEW_TICKET,
        agent_reply["message_id"]: None,
        by_in_reply_to.message_id: "matched In-Reply-To to inbound message of TKT-0001",
        by_references.message_id: "matched References to outbound reply of TKT-0001",
        to_acknowledgement.message_id: "matched In-Reply-To to notification email of TKT-0001",
    }
    cut = _interaction(ticket, by_in_reply_to.message_id)
    assert cut["body_text"] == "It is off now."
    assert cut["full_text"] == "It is off now.\n\n> Have you tried turning it off?"
    assert cut["auto_submitted"] is False
    logged = [
        change["after"]
        for entry in activity
        for change in entry["changes"]
        if change["field"] == "threading_reason"
    ]
    assert logged == [
        NEW_TICKET,
        *(reasons(ticket)[item.message_id] for item in (by_in_reply_to, by_references, to_acknowledgement)),
    ]

    portal_text = json.dumps(portal)
    assert "threading_reason" not in portal_text and "matched" not in portal_text
    assert "full_text" not in portal_text and "> Have you tried" not in portal_text
    assert "It is off now." in [message["body_text"] for message in portal["messages"]]

    assert split_ticket["split_from"] == "TKT-0001"
    assert (
        reasons(split_ticket)[to_split_off.message_id] == "matched In-Reply-To to inbound message of TKT-0002"
    )


async def test_ticket_refs_thread_only_for_the_tickets_own_people(settings):
    await prepare_topics(settings)
    first = email(cc=[LOU.email])
    async with running(create_app(settings)) as client:
        await publish(settings, first, key="first")
        await with_interactions(client, settings, "TKT-0001", 1)
        from_requester = email(subject="One more thing", addressed_ref="TKT-0001")
        from_contact = email(sender=LOU, subject="[TKT-0001] Me too", subject_ref="TKT-0001")
        stranger_by_address = email(sender=EVE, subject="Hijack by address", addressed_ref="TKT-0001")
        stranger_by_subject = email(
            sender=EVE, subject="[TKT-0001] Hijack by subject", subject_ref="TKT-0001"
        )
        await publish(
            settings, from_requester, from_contact, stranger_by_address, stranger_by_subject, key="hints"
        )
        ticket = await with_interactions(client, settings, "TKT-0001", 3)
        tickets = await tickets_counted(client, settings, 3)
        others = {
            t["title"]: await get_ticket(client, settings, t["ref"])
            for t in tickets
            if t["ref"] != "TKT-0001"
        }

    assert reasons(ticket) == {
        first.message_id: NEW_TICKET,
        from_requester.message_id: "plus-address names TKT-0001 and the sender is its requester",
        from_contact.message_id: "subject names TKT-0001 and the sender is one of its contacts",
    }
    assert len(tickets) == 3
    assert {title: other["requester"]["email"] for title, other in others.items()} == {
        "Hijack by address": EVE.email,
        "[TKT-0001] Hijack by subject": EVE.email,
    }
    assert reasons(others["Hijack by address"]) == {
        stranger_by_address.message_id: (
            "plus-address names TKT-0001 but the sender is not one of its contacts: new ticket"
        )
    }
    assert reasons(others["[TKT-0001] Hijack by subject"]) == {
        stranger_by_subject.message_id: (
            "subject names TKT-0001 but the sender is not one of its contacts: new ticket"
        )
    }


async def test_auto_replies_are_kept_but_never_reopen_or_follow_up(settings):
    await prepare_topics(settings)
    first = email()
    async with running(create_app(settings)) as client:
        await publish(settings, first, key="first")
        await with_interactions(client, settings, "TKT-0001", 1)
        agent_reply = await reply_as_agent(client, settings, "TKT-0001", "Fixed, I think.")
        resolved = await set_status(client, settings, "TKT-0001", "RESOLVED")

        out_of_office = email(
            subject="Out of office: Re: Printer on fire",
            in_reply_to=agent_reply["message_id"],
            auto_submitted=True,
            auto_submitted_reason="Auto-Submitted: auto-replied",
        )
        await publish(settings, out_of_office, key="replies")
        after_ooo = await with_interactions(client, settings, "TKT-0001", 3)
        closed = await set_status(client, settings, "TKT-0001", "CLOSED")

        on_closed = email(
            subject="Out of office",
            in_reply_to=agent_reply["message_id"],
            auto_submitted=True,
            auto_submitted_reason="Auto-Submitted: auto-replied",
        )
        human = email(subject="Re: Printer on fire", in_reply_to=agent_reply["message_id"])
        human_again = email(subject="Re: Printer on fire", in_reply_to=agent_reply["message_id"])
        await publish(settings, on_closed, human, human_again, key="replies")
        follow_up = await with_interactions(client, settings, "TKT-0002", 2)
        closed_after = await get_ticket(client, settings, "TKT-0001")

        newsletter = email(
            sender=EVE,
            subject="Our spring offers",
            auto_submitted=True,
            auto_submitted_reason="Precedence: bulk",
        )
        await publish(settings, newsletter, key="newsletter")
        auto_ticket = await with_interactions(client, settings, "TKT-0003", 1)
        tickets = await all_tickets(client, settings)

    assert resolved["status"] == "RESOLVED"
    assert after_ooo["status"] == "RESOLVED" and after_ooo["resolved_at"] == resolved["resolved_at"]
    assert after_ooo["version"] == resolved["version"] + 1, "recorded, no status change"
    ooo = _interaction(after_ooo, out_of_office.message_id)
    assert ooo["auto_submitted"] is True
    assert ooo["threading_reason"] == (
        "matched In-Reply-To to outbound reply of TKT-0001; auto-reply (Auto-Submitted: auto-replied) "
        "not counted as the customer's reply: status left RESOLVED"
    )

    assert closed_after is not None and closed_after["status"] == "CLOSED"
    assert closed_after["version"] == closed["version"] + 1
    assert _interaction(closed_after, on_closed.message_id)["threading_reason"] == (
        "matched In-Reply-To to outbound reply of TKT-0001; auto-reply (Auto-Submitted: auto-replied) "
        "recorded on closed TKT-0001, no follow-up"
    )
    assert follow_up["follow_up_of"] == "TKT-0001" and follow_up["status"] == "OPEN"
    assert reasons(follow_up) == {
        human.message_id: (
            "matched In-Reply-To to outbound reply of TKT-0001; TKT-0001 is closed: follow-up ticket"
        ),
        human_again.message_id: (
            "matched In-Reply-To to outbound reply of TKT-0001; "
            "TKT-0001 is closed: continued on its follow-up TKT-0002"
        ),
    }

    assert [t["ref"] for t in tickets] == ["TKT-0003", "TKT-0002", "TKT-0001"]
    assert auto_ticket["tags"] == ["auto-reply"] and auto_ticket["requester"]["email"] == EVE.email
    assert auto_ticket["interactions"][0]["auto_submitted"] is True
    assert auto_ticket["interactions"][0]["threading_reason"] == (
        f"{NEW_TICKET}; auto-reply (Precedence: bulk): tagged auto-reply"
    )
    events = await read_topic(
        settings.kafka_bootstrap,
        settings.topic(topics.TICKETS),
        until=lambda records: sum(r.headers["ce_subject"] == "TKT-0003" for r in records) >= 1,
    )
    [created] = [json.loads(r.value) for r in events if r.headers["ce_subject"] == "TKT-0003"]
    assert created["first_interaction"]["auto_submitted"] is True, "notify skips the acknowledgement"


async def test_portal_forms_and_chats_open_their_own_kind_of_ticket(settings):
    await prepare_topics(settings)
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    portal_form = email(
        channel=InboundChannel.PORTAL,
        subject="Refund please",
        priority=Priority.HIGH,
        ticket_type=TicketType.CUSTOMER_REQUEST,
        category="billing",
    )
    unknown_category = email(
        channel=InboundChannel.PORTAL, sender=LOU, subject="Laser request", category="Lasers"
    )
    chat = email(
        channel=InboundChannel.CHAT,
        subject="",
        text_body="",
        transcript=[
            ChatLine(author_role=ChatAuthorRole.BOT, text="Hi! How can I help?", sent_at=started),
            ChatLine(author_role=ChatAuthorRole.CUSTOMER, text="My invoice is wrong", sent_at=started),
            ChatLine(
                author_role=ChatAuthorRole.AGENT,
                author_name="Sam",
                text="Let me check that for you",
                sent_at=started + timedelta(seconds=40),
            ),
        ],
    )
    customer = bearer(settings, Role.CUSTOMER, sub="kim", email=KIM.email)
    async with running(create_app(settings)) as client:
        lists = await client.put(
            "/v1/categories",
            json={"values": ["Billing", "Technical"], "restricted": True},
            headers=bearer(settings, Role.ADMIN, sub="root"),
        )
        assert lists.status_code == 200, lists.text
        await publish(settings, portal_form, unknown_category, chat, key="intake")
        listed = await tickets_counted(client, settings, 3)
        by_title = {t["title"]: await get_ticket(client, settings, t["ref"]) for t in listed}
        chat_ticket = by_title["My invoice is wrong"]
        chat_portal = (await client.get(f"/v1/portal/tickets/{chat_ticket['ref']}", headers=customer)).json()
        laser_activity = (
            await client.get(
                f"/v1/tickets/{by_title['Laser request']['ref']}/activity", headers=bearer(settings)
            )
        ).json()["items"]

    form = by_title["Refund please"]
    assert (form["source"], form["priority"], form["type"], form["category"]) == (
        "PORTAL",
        "HIGH",
        "CUSTOMER_REQUEST",
        "Billing",
    )
    assert [(i["type"], i["body_text"], i["threading_reason"]) for i in form["interactions"]] == [
        ("PORTAL_MESSAGE", "Text of Refund please", "portal form: new ticket")
    ]
    laser = by_title["Laser request"]
    assert (laser["source"], laser["category"], laser["priority"]) == ("PORTAL", None, "MEDIUM")
    note = "portal category 'Lasers' is not one of the allowed categories: left empty"
    assert laser["interactions"][0]["threading_reason"] == f"portal form: new ticket; {note}"
    assert {"field": "intake_note", "before": None, "after": note} in laser_activity[0]["changes"]

    assert chat_ticket["source"] == "CHAT" and chat_ticket["requester"]["email"] == KIM.email
    assert [
        (
            i["type"],
            i["chat_role"],
            i["author"]["name"],
            i["body_text"],
            datetime.fromisoformat(i["created_at"]),
        )
        for i in chat_ticket["interactions"]
    ] == [
        ("CHAT", "bot", "Bot", "Hi! How can I help?", started),
        ("CHAT", "customer", KIM.name, "My invoice is wrong", started),
        ("CHAT", "agent", "Sam", "Let me check that for you", started + timedelta(seconds=40)),
    ]
    assert [(m["from_support"], m["author_name"]) for m in chat_portal["messages"]] == [
        (True, "Bot"),
        (False, KIM.name),
        (True, "Sam"),
    ]


def _interaction(ticket: dict, message_id: str) -> dict:
    [found] = [item for item in ticket["interactions"] if item["message_id"] == message_id]
    return found


async def _message_id_known(settings: Settings, message_id: str) -> bool:
    mongo = create_mongo_client(settings)
    try:
        return await mongo[settings.database_name][MESSAGE_IDS].find_one({"_id": message_id}) is not None
    finally:
        await mongo.close()
