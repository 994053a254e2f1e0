"""Pure threading rules: which ticket an inbound message belongs to, and why. No IO here.

The order is what a help desk can trust most to least:

1. the message's own thread headers (In-Reply-To, then References newest first) matched against
   every Message-ID this service has seen or sent: customers' emails, agents' replies and the
   notifications sent about a ticket. Message-IDs are unguessable, so a match is a real reply;
2. the thread root every email of a conversation shares (tickets stored before step 1 existed);
3. a ticket ref in the plus-address (support+TKT-0042@...) or in the subject ([TKT-0042]), but
   only when the sender is that ticket's requester or one of its contacts: refs are short and
   guessable, and a stranger naming one must not write onto someone else's ticket;
4. otherwise a new ticket.

Every decision carries a reason in plain words; staff see it on the interaction and in the log.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from ticketstream.contracts.events import InboundChannel, InboundMessageReceived
from ticketstream.contracts.models import TicketSnapshot, TicketStatus
from ticketstream_tickets.domain import AUTO_REPLY_TAG, format_ref, parse_ref

# The newest References are the ones that matter; a long chain is cut so one lookup stays small.
MAX_CANDIDATES = 50
EMAIL_CHANNELS = frozenset({InboundChannel.SMTP, InboundChannel.WEBHOOK, InboundChannel.IMAP})


class MessageKind(StrEnum):
    """What a known Message-ID was, in the words of a reason."""

    INBOUND = "inbound message"
    OUTBOUND = "outbound reply"
    NOTIFICATION = "notification email"


@dataclass(frozen=True)
class KnownMessage:
    """A Message-ID this service has seen or sent, and the ticket it belongs to."""

    message_id: str
    ticket_id: str
    ref: str
    kind: MessageKind


class SenderRelation(StrEnum):
    REQUESTER = "its requester"
    CONTACT = "one of its contacts"
    STRANGER = "not one of its contacts"


@dataclass(frozen=True)
class HintedTicket:
    """A ticket named by a plus-address or subject token, and who the sender is to it."""

    ticket_id: str
    ref: str
    sender: SenderRelation


@dataclass(frozen=True)
class ThreadingFacts:
    """What the store looked up for one message. `hints` is keyed by normalised ref; a ref that
    names no ticket is absent."""

    known: Mapping[str, KnownMessage]
    thread_root: HintedTicket | None = None
    hints: Mapping[str, HintedTicket] | None = None


class Via(StrEnum):
    IN_REPLY_TO = "in_reply_to"
    REFERENCES = "references"
    THREAD_ROOT = "thread_root"
    PLUS_ADDRESS = "plus_address"
    SUBJECT = "subject"
    NEW = "new"


@dataclass(frozen=True)
class ThreadingDecision:
    """Where a message goes: onto `ticket_id`, or a new ticket when it is None."""

    via: Via
    reason: str
    ticket_id: str | None = None
    ref: str | None = None

    @property
    def is_new(self) -> bool:
        return self.ticket_id is None


def normalised_message_id(value: str) -> str:
    """One spelling per Message-ID: surrounding blanks dropped, angle brackets present."""
    bare = value.strip().strip("<>").strip()
    return f"<{bare}>" if bare else ""


def normalised_ref(value: str | None) -> str | None:
    number = parse_ref(value) if value else None
    return format_ref(number) if number is not None else None


def is_email(event: InboundMessageReceived) -> bool:
    return event.channel in EMAIL_CHANNELS


def candidates(event: InboundMessageReceived) -> list[str]:
    """Message-IDs this message answers, most telling first: In-Reply-To, then References from
    the newest back. The message's own id is never a candidate (that would be a duplicate)."""
    own = normalised_message_id(event.message_id)
    ordered = [event.in_reply_to] if event.in_reply_to else []
    ordered += reversed(event.references)
    unique = dict.fromkeys(normalised_message_id(value) for value in ordered)
    return [value for value in unique if value and value != own][:MAX_CANDIDATES]


def header_match(
    event: InboundMessageReceived, known: Mapping[str, KnownMessage]
) -> ThreadingDecision | None:
    """The first candidate Message-ID this service knows, with the header it came from."""
    in_reply_to = normalised_message_id(event.in_reply_to) if event.in_reply_to else None
    for message_id in candidates(event):
        found = known.get(message_id)
        if found is None:
            continue
        via, header = (
            (Via.IN_REPLY_TO, "In-Reply-To") if message_id == in_reply_to else (Via.REFERENCES, "References")
        )
        return ThreadingDecision(
            via=via,
            reason=f"matched {header} to {found.kind.value} of {found.ref}",
            ticket_id=found.ticket_id,
            ref=found.ref,
        )
    return None


def hinted_refs(event: InboundMessageReceived) -> list[tuple[Via, str]]:
    """The refs the message names, plus-address first (the customer's mail client replied to the
    address we gave; a subject is typed by hand and may be copied from another mail)."""
    hints = [
        (Via.PLUS_ADDRESS, normalised_ref(event.addressed_ref)),
        (Via.SUBJECT, normalised_ref(event.subject_ref)),
    ]
    return [(via, ref) for via, ref in hints if ref is not None]


HINT_WORDS = {Via.PLUS_ADDRESS: "plus-address", Via.SUBJECT: "subject"}


def decide(event: InboundMessageReceived, facts: ThreadingFacts) -> ThreadingDecision:
    """Where an inbound message goes, and why (see the module docstring for the order)."""
    if not is_email(event):
        return ThreadingDecision(via=Via.NEW, reason=f"{channel_words(event.channel)}: new ticket")
    matched = header_match(event, facts.known)
    if matched is not None:
        return matched
    ignored: list[str] = []
    root = facts.thread_root
    if root is not None:
        # The root is whatever the sender's References start with (often a newsletter or a
        # forward others reply to as well), so it only counts from the ticket's own people.
        if root.sender is not SenderRelation.STRANGER:
            return ThreadingDecision(
                via=Via.THREAD_ROOT,
                reason=(
                    f"matched the thread root Message-ID of {root.ref} and the sender is {root.sender.value}"
                ),
                ticket_id=root.ticket_id,
                ref=root.ref,
            )
        ignored.append(
            f"the thread root Message-ID is that of {root.ref} but the sender is {root.sender.value}"
        )
    for via, ref in hinted_refs(event):
        words = HINT_WORDS[via]
        hinted = (facts.hints or {}).get(ref)
        if hinted is None:
            ignored.append(f"{words} names {ref}, which does not exist")
        elif hinted.sender is SenderRelation.STRANGER:
            ignored.append(f"{words} names {ref} but the sender is {hinted.sender.value}")
        else:
            reason = f"{words} names {ref} and the sender is {hinted.sender.value}"
            if ignored:
                reason += f" ({'; '.join(ignored)})"
            return ThreadingDecision(via=via, reason=reason, ticket_id=hinted.ticket_id, ref=hinted.ref)
    if ignored:
        return ThreadingDecision(via=Via.NEW, reason=f"{'; '.join(ignored)}: new ticket")
    return ThreadingDecision(
        via=Via.NEW, reason="no known Message-ID, plus-address or subject ref: new ticket"
    )


def channel_words(channel: InboundChannel) -> str:
    return {InboundChannel.PORTAL: "portal form", InboundChannel.CHAT: "chat transcript"}.get(
        channel, f"{channel.value.lower()} message"
    )


def sender_relation(
    ticket: TicketSnapshot, *, sender_email: str, sender_customer_id: str | None
) -> SenderRelation:
    """Who the sender is to a ticket: its requester, one of its contacts (people copied or added
    later), or a stranger."""
    email = sender_email.strip().lower()
    if ticket.requester is not None and ticket.requester.email.lower() == email:
        return SenderRelation.REQUESTER
    if sender_customer_id is not None and sender_customer_id in ticket.contact_ids:
        return SenderRelation.CONTACT
    return SenderRelation.STRANGER


# --- after the decision: where the message finally lands ------------------------------------


def merged_note(duplicate: TicketSnapshot, kept: TicketSnapshot) -> str:
    return f"{duplicate.ref} was merged into {kept.ref}"


def follow_up_note(closed: TicketSnapshot, follow_up: TicketSnapshot) -> str:
    return f"{closed.ref} is closed: continued on its follow-up {follow_up.ref}"


def with_notes(reason: str, notes: Sequence[str]) -> str:
    return "; ".join([reason, *notes])


class Landing(StrEnum):
    """What happens on the ticket the message reached."""

    MESSAGE = "message"  # a customer message: may reopen the ticket
    FOLLOW_UP = "follow_up"  # the ticket is closed: a linked follow-up ticket opens
    RECORD_ONLY = "record_only"  # an auto-reply: recorded, no status change, no follow-up


def landing(ticket: TicketSnapshot, event: InboundMessageReceived) -> tuple[Landing, str | None]:
    """How the message is applied to the ticket it reached, and the note that says so.

    An auto-reply (out-of-office, list or bulk mail) is kept on the ticket so nothing is lost, but
    it is not the customer answering: it never reopens a resolved or waiting ticket and never
    opens a follow-up of a closed one (the closed ticket keeps it, for the record).
    """
    closed = ticket.status is TicketStatus.CLOSED
    if not event.auto_submitted:
        if closed:
            return Landing.FOLLOW_UP, f"{ticket.ref} is closed: follow-up ticket"
        return Landing.MESSAGE, None
    what = _auto_reply_words(event)
    if closed:
        return Landing.RECORD_ONLY, f"{what} recorded on closed {ticket.ref}, no follow-up"
    return (
        Landing.RECORD_ONLY,
        f"{what} not counted as the customer's reply: status left {ticket.status.value}",
    )


def _auto_reply_words(event: InboundMessageReceived) -> str:
    return f"auto-reply ({event.auto_submitted_reason})" if event.auto_submitted_reason else "auto-reply"


def auto_reply_note(event: InboundMessageReceived) -> str | None:
    """Why a new ticket from a machine-written message is tagged, when it is one."""
    if not event.auto_submitted or not is_email(event):
        return None
    return f"{_auto_reply_words(event)}: tagged {AUTO_REPLY_TAG}"
