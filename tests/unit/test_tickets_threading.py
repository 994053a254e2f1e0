"""Unit tests of the pure threading decision: which ticket an inbound message lands on, and why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ticketstream.contracts.events import InboundChannel, InboundMessageReceived, InteractionSummary
from ticketstream.contracts.models import (
    InteractionType,
    Person,
    Priority,
    Source,
    TicketSnapshot,
    TicketStatus,
)
from ticketstream_tickets.email_threading import (
    HintedTicket,
    KnownMessage,
    Landing,
    MessageKind,
    SenderRelation,
    ThreadingDecision,
    ThreadingFacts,
    Via,
    auto_reply_note,
    candidates,
    decide,
    follow_up_note,
    landing,
    merged_note,
    normalised_message_id,
    normalised_ref,
    sender_relation,
    with_notes,
)
from ticketstream_tickets.lifecycle import FieldChange, inbound_messages

NOW = datetime(2026, 5, 4, 8, 30, tzinfo=UTC)
KIM = Person(email="kim@example.com", name="Kim Example")


def message(**overrides: object) -> InboundMessageReceived:
    values: dict[str, object] = {
        "inbound_id": "in-1",
        "channel": InboundChannel.SMTP,
        "message_id": "<new@example.com>",
        "email_thread_id": "<new@example.com>",
        "sender": KIM,
        "subject": "Re: Printer on fire",
        "text_body": "Still burning.",
        "received_at": NOW,
    }
    values.update(overrides)
    return InboundMessageReceived.model_validate(values)


def known(message_id: str, ref: str, kind: MessageKind) -> KnownMessage:
    return KnownMessage(message_id=message_id, ticket_id=f"id-{ref}", ref=ref, kind=kind)


def ticket(ref: str = "TKT-0042", **overrides: object) -> TicketSnapshot:
    values: dict[str, object] = {
        "id": f"id-{ref}",
        "ref": ref,
        "title": "Printer on fire",
        "status": TicketStatus.OPEN,
        "priority": Priority.MEDIUM,
        "source": Source.EMAIL,
        "requester": KIM,
        "customer_id": "c-kim",
        "contact_ids": ["c-kim", "c-lou"],
        "version": 3,
        "created_at": NOW - timedelta(days=2),
        "updated_at": NOW - timedelta(days=1),
    }
    values.update(overrides)
    return TicketSnapshot.model_validate(values)


# --- the Message-IDs a message answers ------------------------------------------------------


def test_candidates_are_in_reply_to_then_references_newest_first_without_repeats_or_the_own_id() -> None:
    event = message(
        in_reply_to="<b@x>",
        references=["<root@x>", " <a@x> ", "b@x", "<new@example.com>"],
    )

    assert candidates(event) == ["<b@x>", "<a@x>", "<root@x>"]


def test_message_ids_are_spelt_one_way() -> None:
    assert normalised_message_id("  abc@x ") == "<abc@x>"
    assert normalised_message_id("<abc@x>") == "<abc@x>"
    assert normalised_message_id(" < abc@x > ") == "<abc@x>"
    assert normalised_message_id("<>") == ""


def test_refs_are_spelt_one_way() -> None:
    assert normalised_ref("tkt-42") is None  # four digits at least, as refs are written
    assert normalised_ref("tkt-0042") == "TKT-0042"
    assert normalised_ref(" TKT-0042 ") == "TKT-0042"
    assert normalised_ref("TKT-0000") is None
    assert normalised_ref(None) is None


# --- the decision ---------------------------------------------------------------------------


def test_in_reply_to_an_inbound_message_threads_with_its_reason() -> None:
    event = message(in_reply_to="<first@example.com>", references=["<first@example.com>"])
    facts = ThreadingFacts(
        known={"<first@example.com>": known("<first@example.com>", "TKT-0007", MessageKind.INBOUND)}
    )

    assert decide(event, facts) == ThreadingDecision(
        via=Via.IN_REPLY_TO,
        reason="matched In-Reply-To to inbound message of TKT-0007",
        ticket_id="id-TKT-0007",
        ref="TKT-0007",
    )


def test_references_are_searched_newest_first() -> None:
    event = message(
        in_reply_to="<unknown@client>", references=["<root@x>", "<reply@desk>", "<unknown@client>"]
    )
    facts = ThreadingFacts(
        known={
            "<root@x>": known("<root@x>", "TKT-0001", MessageKind.INBOUND),
            "<reply@desk>": known("<reply@desk>", "TKT-0042", MessageKind.OUTBOUND),
        }
    )

    decision = decide(event, facts)

    assert decision.via is Via.REFERENCES
    assert decision.reason == "matched References to outbound reply of TKT-0042"
    assert decision.ticket_id == "id-TKT-0042"


def test_in_reply_to_wins_over_references() -> None:
    event = message(in_reply_to="<ack@desk>", references=["<reply@desk>"])
    facts = ThreadingFacts(
        known={
            "<reply@desk>": known("<reply@desk>", "TKT-0042", MessageKind.OUTBOUND),
            "<ack@desk>": known("<ack@desk>", "TKT-0043", MessageKind.NOTIFICATION),
        }
    )

    assert decide(event, facts).reason == "matched In-Reply-To to notification email of TKT-0043"


def test_a_known_message_id_wins_over_a_ticket_ref_in_the_subject() -> None:
    event = message(in_reply_to="<reply@desk>", subject_ref="TKT-0099")
    facts = ThreadingFacts(
        known={"<reply@desk>": known("<reply@desk>", "TKT-0042", MessageKind.OUTBOUND)},
        hints={"TKT-0099": HintedTicket("id-TKT-0099", "TKT-0099", SenderRelation.REQUESTER)},
    )

    assert decide(event, facts).ref == "TKT-0042"


def test_the_thread_root_is_the_fallback_of_tickets_older_than_the_message_id_index() -> None:
    event = message(in_reply_to="<gone@x>", email_thread_id="<root@x>")
    facts = ThreadingFacts(
        known={}, thread_root=HintedTicket("id-TKT-0003", "TKT-0003", SenderRelation.REQUESTER)
    )

    decision = decide(event, facts)

    assert decision.via is Via.THREAD_ROOT
    assert decision.reason == "matched the thread root Message-ID of TKT-0003 and the sender is its requester"
    assert decision.ticket_id == "id-TKT-0003"


def test_a_thread_root_shared_with_a_stranger_does_not_put_their_mail_on_the_ticket() -> None:
    # Two customers answer the same newsletter: its Message-ID is both threads' root.
    event = message(in_reply_to="<newsletter@x>", email_thread_id="<newsletter@x>")
    facts = ThreadingFacts(
        known={}, thread_root=HintedTicket("id-TKT-0003", "TKT-0003", SenderRelation.STRANGER), hints={}
    )

    decision = decide(event, facts)

    assert decision.via is Via.NEW and decision.ticket_id is None
    assert decision.reason == (
        "the thread root Message-ID is that of TKT-0003 but the sender is not one of its contacts: new ticket"
    )


@pytest.mark.parametrize(
    ("relation", "words"),
    [(SenderRelation.REQUESTER, "its requester"), (SenderRelation.CONTACT, "one of its contacts")],
)
def test_a_plus_address_from_a_person_of_the_ticket_threads(relation: SenderRelation, words: str) -> None:
    event = message(addressed_ref="TKT-0042")
    facts = ThreadingFacts(known={}, hints={"TKT-0042": HintedTicket("id-TKT-0042", "TKT-0042", relation)})

    assert decide(event, facts) == ThreadingDecision(
        via=Via.PLUS_ADDRESS,
        reason=f"plus-address names TKT-0042 and the sender is {words}",
        ticket_id="id-TKT-0042",
        ref="TKT-0042",
    )


def test_a_subject_ref_from_a_stranger_opens_a_new_ticket_and_says_why() -> None:
    event = message(subject_ref="tkt-0042")
    facts = ThreadingFacts(
        known={}, hints={"TKT-0042": HintedTicket("id-TKT-0042", "TKT-0042", SenderRelation.STRANGER)}
    )

    assert decide(event, facts) == ThreadingDecision(
        via=Via.NEW, reason="subject names TKT-0042 but the sender is not one of its contacts: new ticket"
    )


def test_a_ref_of_no_ticket_is_ignored_and_said() -> None:
    event = message(addressed_ref="TKT-0777")

    decision = decide(event, ThreadingFacts(known={}, hints={}))

    assert decision.is_new
    assert decision.reason == "plus-address names TKT-0777, which does not exist: new ticket"


def test_the_plus_address_is_tried_before_the_subject_and_an_ignored_hint_is_noted() -> None:
    event = message(addressed_ref="TKT-0042", subject_ref="TKT-0050")
    facts = ThreadingFacts(
        known={},
        hints={
            "TKT-0042": HintedTicket("id-TKT-0042", "TKT-0042", SenderRelation.STRANGER),
            "TKT-0050": HintedTicket("id-TKT-0050", "TKT-0050", SenderRelation.REQUESTER),
        },
    )

    decision = decide(event, facts)

    assert decision.via is Via.SUBJECT and decision.ref == "TKT-0050"
    assert decision.reason == (
        "subject names TKT-0050 and the sender is its requester "
        "(plus-address names TKT-0042 but the sender is not one of its contacts)"
    )


def test_nothing_known_opens_a_new_ticket() -> None:
    decision = decide(message(in_reply_to="<x@y>", references=["<x@y>"]), ThreadingFacts(known={}))

    assert decision == ThreadingDecision(
        via=Via.NEW, reason="no known Message-ID, plus-address or subject ref: new ticket"
    )


@pytest.mark.parametrize(
    ("channel", "reason"),
    [
        (InboundChannel.PORTAL, "portal form: new ticket"),
        (InboundChannel.CHAT, "chat transcript: new ticket"),
    ],
)
def test_portal_forms_and_chats_always_open_a_new_ticket(channel: InboundChannel, reason: str) -> None:
    event = message(channel=channel, in_reply_to="<first@example.com>", subject_ref="TKT-0042")
    facts = ThreadingFacts(
        known={"<first@example.com>": known("<first@example.com>", "TKT-0007", MessageKind.INBOUND)}
    )

    assert decide(event, facts) == ThreadingDecision(via=Via.NEW, reason=reason)


# --- who the sender is to a ticket ----------------------------------------------------------


def test_sender_relation() -> None:
    snapshot = ticket()

    assert sender_relation(snapshot, sender_email="KIM@example.com ", sender_customer_id="c-kim") is (
        SenderRelation.REQUESTER
    )
    assert sender_relation(snapshot, sender_email="lou@example.com", sender_customer_id="c-lou") is (
        SenderRelation.CONTACT
    )
    assert sender_relation(snapshot, sender_email="eve@example.com", sender_customer_id="c-eve") is (
        SenderRelation.STRANGER
    )
    assert sender_relation(snapshot, sender_email="eve@example.com", sender_customer_id=None) is (
        SenderRelation.STRANGER
    )


# --- where it finally lands -----------------------------------------------------------------


def test_a_customer_message_on_a_closed_ticket_opens_a_follow_up() -> None:
    assert landing(ticket(status=TicketStatus.CLOSED), message()) == (
        Landing.FOLLOW_UP,
        "TKT-0042 is closed: follow-up ticket",
    )


@pytest.mark.parametrize(
    "status", [TicketStatus.OPEN, TicketStatus.RESOLVED, TicketStatus.WAITING_ON_CUSTOMER]
)
def test_a_customer_message_is_a_message(status: TicketStatus) -> None:
    assert landing(ticket(status=status), message()) == (Landing.MESSAGE, None)


def test_an_auto_reply_is_only_recorded_whatever_the_status() -> None:
    out_of_office = message(auto_submitted=True, auto_submitted_reason="Auto-Submitted: auto-replied")

    assert landing(ticket(status=TicketStatus.RESOLVED), out_of_office) == (
        Landing.RECORD_ONLY,
        "auto-reply (Auto-Submitted: auto-replied) not counted as the customer's reply: status left RESOLVED",
    )
    assert landing(ticket(status=TicketStatus.CLOSED), out_of_office) == (
        Landing.RECORD_ONLY,
        "auto-reply (Auto-Submitted: auto-replied) recorded on closed TKT-0042, no follow-up",
    )


def test_auto_reply_note_of_a_new_ticket() -> None:
    assert auto_reply_note(message()) is None
    assert auto_reply_note(message(auto_submitted=True)) == "auto-reply: tagged auto-reply"
    assert (
        auto_reply_note(message(auto_submitted=True, auto_submitted_reason="Precedence: bulk"))
        == "auto-reply (Precedence: bulk): tagged auto-reply"
    )


def test_redirect_notes() -> None:
    duplicate, kept = ticket("TKT-0007"), ticket("TKT-0009")

    reason = with_notes(
        "matched In-Reply-To to inbound message of TKT-0007",
        [merged_note(duplicate, kept), follow_up_note(kept, ticket("TKT-0012"))],
    )

    assert reason == (
        "matched In-Reply-To to inbound message of TKT-0007; TKT-0007 was merged into TKT-0009; "
        "TKT-0009 is closed: continued on its follow-up TKT-0012"
    )


# --- the steps on the ticket ----------------------------------------------------------------


def inbound(reason: str, *, auto_submitted: bool = False) -> InteractionSummary:
    return InteractionSummary(
        id="i-9",
        type=InteractionType.EMAIL_INBOUND,
        customer_visible=True,
        author=KIM,
        body_text="Still burning.",
        auto_submitted=auto_submitted,
        threading_reason=reason,
        created_at=NOW,
    )


def test_the_customers_reply_reopens_a_resolved_ticket_and_the_log_says_why_it_landed() -> None:
    resolved = ticket(status=TicketStatus.RESOLVED, resolved_at=NOW - timedelta(hours=1))
    reason = "matched In-Reply-To to outbound reply of TKT-0042"

    steps = inbound_messages(resolved, [inbound(reason)], counts_as_reply=True, actor=KIM.email, now=NOW)

    assert [step.event.event_type for step in steps] == ["ticket.interaction_added", "ticket.status_changed"]
    assert steps[-1].ticket.status is TicketStatus.OPEN and steps[-1].ticket.version == 5
    assert steps[0].changes == (
        FieldChange("interactions", None, "EMAIL_INBOUND"),
        FieldChange("threading_reason", None, reason),
    )


@pytest.mark.parametrize(
    "status", [TicketStatus.RESOLVED, TicketStatus.WAITING_ON_CUSTOMER, TicketStatus.CLOSED]
)
def test_an_auto_reply_changes_no_status(status: TicketStatus) -> None:
    steps = inbound_messages(
        ticket(status=status),
        [inbound("r", auto_submitted=True)],
        counts_as_reply=False,
        actor=KIM.email,
        now=NOW,
    )

    assert [step.event.event_type for step in steps] == ["ticket.interaction_added"]
    assert steps[0].ticket.status is status and steps[0].ticket.version == 4
