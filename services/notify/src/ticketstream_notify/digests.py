"""Storm protection for email: a per-recipient budget, and the digest that replaces the rest.

Pure rules, no IO. Each recipient may receive `limit` emails per window; mail beyond that is held
and, when the window ends, combined into one digest listing every held item. The mail that IS a
customer's conversation (an agent's public reply, the acknowledgement of their request) is never
held: it must arrive on its own, in its thread, whatever the volume. Every other kind, including
kinds this module has never heard of, takes part.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from ticketstream.contracts.addressing import plus_address
from ticketstream_notify.domain import OutgoingEmail

DIGEST_KIND = "digest"
# The conversation itself, the resolution email (a digest's excerpt would cut its survey link),
# and the digest (which must not be digested again).
NEVER_DIGESTED_KINDS = frozenset({"reply", "acknowledgement", "status.resolved", DIGEST_KIND})
EXCERPT_CHARACTERS = 160


@dataclass(frozen=True)
class MailBudget:
    """At most `limit` emails to one address per `window`; 0 turns the budget off."""

    limit: int
    window: timedelta

    @property
    def enabled(self) -> bool:
        return self.limit > 0


@dataclass(frozen=True)
class BudgetState:
    """What is known of a recipient's current window."""

    window_ends_at: datetime
    sent: int


@dataclass(frozen=True)
class DigestItem:
    """One held mail, as the digest lists it."""

    ref: str
    ticket_id: str
    subject: str
    excerpt: str
    queued_at: datetime


def takes_part(mail: OutgoingEmail) -> bool:
    """Whether a mail counts against the recipient's budget (and may be held for a digest)."""
    return mail.kind not in NEVER_DIGESTED_KINDS


def may_send(state: BudgetState | None, budget: MailBudget, *, now: datetime) -> bool:
    """True when one more email fits the recipient's window (a missing or ended window is fresh)."""
    if state is None or state.window_ends_at <= now:
        return True
    return state.sent < budget.limit


def item_of(mail: OutgoingEmail, *, queued_at: datetime) -> DigestItem:
    return DigestItem(
        ref=mail.ref,
        ticket_id=mail.ticket_id,
        subject=mail.subject,
        excerpt=excerpt(mail.text),
        queued_at=queued_at,
    )


def excerpt(text: str) -> str:
    """The first line that says something (greetings skipped), shortened."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    meaningful = [line for line in lines if not line.lower().startswith(("hello", "hi ", "dear"))]
    first = (meaningful or lines or [""])[0]
    if len(first) <= EXCERPT_CHARACTERS:
        return first
    return first[: EXCERPT_CHARACTERS - 1].rstrip() + "…"


def digest_id(held_mail_ids: Sequence[str]) -> str:
    """Stable for a given set of held mails, so rebuilding after a crash cannot send twice."""
    return "digest:" + hashlib.sha256("\n".join(sorted(held_mail_ids)).encode()).hexdigest()[:32]


def digest_email(
    recipient: str,
    items: Sequence[DigestItem],
    *,
    mail_id: str,
    support_address: str,
    audience: str = "customer",
) -> OutgoingEmail:
    """One email listing every held item, oldest first. It carries only what each held mail
    would have told this same recipient, so nothing reaches them that they would not have seen.
    Held mail is digested per (recipient, audience): a staff digest is never threaded to a ticket,
    so an agent's answer to it cannot land on the ticket as the customer's message."""
    ordered = sorted(items, key=lambda item: item.queued_at)
    lines = [
        f"Hello,\n\nTo spare your inbox, {len(ordered)} updates that arrived in quick succession are "
        f"combined into this one message:\n"
    ]
    for item in ordered:
        lines.append(f"- {item.queued_at:%H:%M} UTC  [{item.ref}] {item.subject}")
        if item.excerpt:
            lines.append(f"    {item.excerpt}")
    lines.append("\nOpen a ticket to see its full history.\n\n— Support\n")
    refs = sorted({item.ref for item in ordered if item.ref})
    domain = support_address.partition("@")[2] or "ticketstream.local"
    message_id = f"<{mail_id.replace(':', '.')}@{domain}>"
    tickets = {(item.ticket_id, item.ref) for item in ordered if item.ticket_id and item.ref}
    if len(tickets) == 1 and audience == "customer":
        # All about one ticket: threaded to it like its other mail, so an answer lands on it.
        [(ticket_id, ref)] = tickets
        return OutgoingEmail(
            to=recipient,
            subject=f"[{ref}] {len(ordered)} updates",
            text="\n".join(lines),
            message_id=message_id,
            in_reply_to=None,
            references=(),
            reply_to=plus_address(support_address, ref),
            ticket_id=ticket_id,
            ref=ref,
            kind=DIGEST_KIND,
            audience=audience,
        )
    shown = ", ".join(refs[:3]) + (f" and {len(refs) - 3} more" if len(refs) > 3 else "")
    return OutgoingEmail(
        to=recipient,
        subject=f"{len(ordered)} updates: {shown}" if shown else f"{len(ordered)} updates",
        text="\n".join(lines),
        message_id=message_id,
        in_reply_to=None,
        references=(),
        reply_to=support_address,
        ticket_id="",
        ref="",
        kind=DIGEST_KIND,
        audience=audience,
    )
