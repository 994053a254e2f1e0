"""Unit tests of intake: the ticket and interactions an email, a portal form or a chat becomes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ticketstream.contracts.events import (
    ChatAuthorRole,
    ChatLine,
    InboundChannel,
    InboundMessageReceived,
)
from ticketstream.contracts.models import InteractionType, Person, Priority, Source, TicketType
from ticketstream_tickets.domain import inbound_interaction, message_text
from ticketstream_tickets.intake import interactions, new_ticket, portal_category
from ticketstream_tickets.vocabulary import ManagedList

NOW = datetime(2026, 5, 4, 8, 30, tzinfo=UTC)
SUPPORT = "support@help.example.test"
KIM = Person(email="kim@example.com", name="Kim Example")
CATEGORIES = ManagedList(values=("Billing", "Hardware"), restricted=True)


def message(**overrides: object) -> InboundMessageReceived:
    values: dict[str, object] = {
        "inbound_id": "in-1",
        "channel": InboundChannel.SMTP,
        "message_id": "<m1@example.com>",
        "email_thread_id": "<m1@example.com>",
        "sender": KIM,
        "recipients": [SUPPORT],
        "subject": "Printer on fire",
        "text_body": "It is really on fire.",
        "received_at": NOW,
    }
    values.update(overrides)
    return InboundMessageReceived.model_validate(values)


# --- the text of a message ------------------------------------------------------------------


def test_a_cut_reply_shows_its_new_text_and_keeps_the_whole_for_staff() -> None:
    event = message(
        text_body="Yes, tomorrow works.\n\n> On Monday Support wrote:\n> When?",
        reply_text="Yes, tomorrow works.",
    )

    assert message_text(event) == (
        "Yes, tomorrow works.",
        "Yes, tomorrow works.\n\n> On Monday Support wrote:\n> When?",
    )


def test_an_uncut_or_emptied_reply_is_the_whole_text() -> None:
    assert message_text(message()) == ("It is really on fire.", None)
    assert message_text(message(reply_text="It is really on fire.")) == ("It is really on fire.", None)
    assert message_text(message(reply_text="  \n")) == ("It is really on fire.", None)


def test_the_inbound_email_interaction_carries_reason_flag_and_headers() -> None:
    event = message(
        reply_text="Out until Monday.",
        text_body="Out until Monday.\n> quoted",
        in_reply_to="<r@desk>",
        references=["<root@x>", "<r@desk>"],
        auto_submitted=True,
    )

    interaction = inbound_interaction(event, interaction_id="i-1", now=NOW, threading_reason="why")

    assert interaction.body_text == "Out until Monday."
    assert interaction.full_text == "Out until Monday.\n> quoted"
    assert interaction.auto_submitted is True
    assert interaction.threading_reason == "why"
    assert interaction.subject == "Printer on fire"
    assert interaction.in_reply_to == "<r@desk>" and interaction.references == ["<root@x>", "<r@desk>"]


# --- email ----------------------------------------------------------------------------------


def test_an_email_ticket_keeps_the_whole_text_and_an_auto_reply_is_tagged() -> None:
    event = message(auto_submitted=True, reply_text="Away.", text_body="Away.\n> history")

    opened = new_ticket(event, support_address=SUPPORT, categories=CATEGORIES)

    assert opened.request.source is Source.EMAIL
    assert opened.request.description == "Away.\n> history"
    assert opened.request.tags == ("auto-reply",)
    assert opened.request.email_thread_id == "<m1@example.com>"
    assert opened.notes == ()


def test_email_ignores_portal_choices() -> None:
    event = message(priority=Priority.URGENT, ticket_type=TicketType.BUG, category="Billing")

    request = new_ticket(event, support_address=SUPPORT, categories=CATEGORIES).request

    assert (request.priority, request.type, request.category) == (Priority.MEDIUM, TicketType.SUPPORT, None)


# --- portal ---------------------------------------------------------------------------------


def test_a_portal_form_opens_a_portal_ticket_with_the_customers_choices() -> None:
    event = message(
        channel=InboundChannel.PORTAL,
        priority=Priority.HIGH,
        ticket_type=TicketType.BUG,
        category="billing",
        email_thread_id="<form@ingest>",
    )

    opened = new_ticket(event, support_address=SUPPORT, categories=CATEGORIES)
    [form] = interactions(
        event,
        interaction_id="i-1",
        now=NOW,
        threading_reason="portal form: new ticket",
        support_address=SUPPORT,
    )

    request = opened.request
    assert (request.source, request.priority, request.type) == (Source.PORTAL, Priority.HIGH, TicketType.BUG)
    assert request.category == "Billing", "the list's own spelling"
    assert request.email_thread_id is None, "no email thread to reply into"
    assert opened.notes == ()
    assert form.type is InteractionType.PORTAL_MESSAGE and form.customer_visible is True
    assert form.author == KIM and form.body_text == "It is really on fire." and form.message_id is None
    assert form.threading_reason == "portal form: new ticket"


def test_a_portal_form_without_choices_gets_the_defaults() -> None:
    request = new_ticket(
        message(channel=InboundChannel.PORTAL), support_address=SUPPORT, categories=CATEGORIES
    ).request

    assert (request.priority, request.type, request.category) == (Priority.MEDIUM, TicketType.SUPPORT, None)


def test_a_category_outside_a_restricted_list_is_dropped_with_a_note() -> None:
    event = message(channel=InboundChannel.PORTAL, category="Lasers")

    opened = new_ticket(event, support_address=SUPPORT, categories=CATEGORIES)

    assert opened.request.category is None
    assert opened.notes == ("portal category 'Lasers' is not one of the allowed categories: left empty",)


def test_portal_category_rules() -> None:
    advisory = ManagedList(values=("Billing",), restricted=False)

    assert portal_category(None, CATEGORIES) == (None, None)
    assert portal_category("   ", CATEGORIES) == (None, None)
    assert portal_category("  HARDWARE ", CATEGORIES) == ("Hardware", None)
    assert portal_category("Lasers  and   more", advisory) == ("Lasers and more", None)
    assert portal_category("x" * 101, advisory) == (
        None,
        "portal category is longer than 100 characters: left empty",
    )


# --- chat -----------------------------------------------------------------------------------


def chat(*lines: ChatLine, subject: str = "", text_body: str = "") -> InboundMessageReceived:
    return message(channel=InboundChannel.CHAT, subject=subject, text_body=text_body, transcript=list(lines))


def test_a_chat_keeps_each_line_in_order_with_its_author_and_time() -> None:
    start = NOW - timedelta(minutes=5)
    event = chat(
        ChatLine(author_role=ChatAuthorRole.BOT, text="Hi! How can I help?", sent_at=start),
        ChatLine(
            author_role=ChatAuthorRole.CUSTOMER, author_name="Kim", text="My invoice is wrong", sent_at=start
        ),
        ChatLine(
            author_role=ChatAuthorRole.AGENT,
            author_name="Sam",
            text="Let me check",
            sent_at=start + timedelta(seconds=30),
        ),
    )

    lines = interactions(
        event,
        interaction_id="i-1",
        now=NOW,
        threading_reason="chat transcript: new ticket",
        support_address=SUPPORT,
    )

    assert [line.id for line in lines] == ["i-1-0000", "i-1-0001", "i-1-0002"]
    assert [line.type for line in lines] == [InteractionType.CHAT] * 3
    assert [line.chat_role for line in lines] == [
        ChatAuthorRole.BOT,
        ChatAuthorRole.CUSTOMER,
        ChatAuthorRole.AGENT,
    ]
    assert [line.body_text for line in lines] == [
        "Hi! How can I help?",
        "My invoice is wrong",
        "Let me check",
    ]
    assert [line.created_at for line in lines] == [start, start, start + timedelta(seconds=30)]
    assert [line.author for line in lines] == [
        Person(email=SUPPORT, name="Bot"),
        Person(email="kim@example.com", name="Kim"),
        Person(email=SUPPORT, name="Sam"),
    ]
    assert all(line.customer_visible and line.author_id is None for line in lines)
    assert {line.threading_reason for line in lines} == {"chat transcript: new ticket"}


def test_a_chat_ticket_is_titled_by_the_customers_first_line_and_describes_the_conversation() -> None:
    event = chat(
        ChatLine(author_role=ChatAuthorRole.BOT, text="Hi!", sent_at=NOW),
        ChatLine(author_role=ChatAuthorRole.CUSTOMER, text="My invoice is wrong", sent_at=NOW),
    )

    request = new_ticket(event, support_address=SUPPORT, categories=CATEGORIES).request

    assert request.source is Source.CHAT and request.requester == KIM
    assert request.title == "My invoice is wrong"
    assert request.description == "Bot: Hi!\nKim Example: My invoice is wrong"
    assert request.email_thread_id is None


def test_a_chat_with_a_subject_and_text_uses_them() -> None:
    event = chat(
        ChatLine(author_role=ChatAuthorRole.CUSTOMER, text="hello", sent_at=NOW),
        subject="Invoice question",
        text_body="rendered transcript",
    )

    request = new_ticket(event, support_address=SUPPORT, categories=CATEGORIES).request

    assert (request.title, request.description) == ("Invoice question", "rendered transcript")


def test_a_chat_without_a_transcript_keeps_its_text_as_one_customer_line() -> None:
    event = chat(text_body="Can someone call me?")

    [line] = interactions(event, interaction_id="i-1", now=NOW, threading_reason="r", support_address=SUPPORT)

    assert (line.chat_role, line.author, line.body_text) == (
        ChatAuthorRole.CUSTOMER,
        KIM,
        "Can someone call me?",
    )
    assert line.created_at == NOW
