"""Recognising machine-generated mail: auto-replies, bulk and list mail (RFC 3834 and the rest).

Such mail must never be acknowledged (two auto-responders would answer each other forever) and
an out-of-office must never reopen a resolved ticket. Each check names the header that decided.
"""

from __future__ import annotations

import re
from collections.abc import Callable

HeaderLookup = Callable[[str], str]

BULK_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply", "auto-reply"})
# Exchange sets X-Auto-Response-Suppress on mail that asks *others* not to auto-reply; on its own
# out-of-office replies it is "All" or names OOF / AutoReply.
SUPPRESS_MEANS_AUTOMATIC = re.compile(r"\b(all|oof|autoreply)\b", re.IGNORECASE)
AUTO_REPLY_SUBJECT = re.compile(
    r"^\s*(auto(matic)?[ -]?(reply|response|antwort|réponse)|out of (the )?office|"
    r"abwesenheitsnotiz|absence du bureau|fuera de la oficina|risposta automatica)\b",
    re.IGNORECASE,
)
MAILER_DAEMON = re.compile(r"^(mailer-daemon|postmaster|mail-daemon)@", re.IGNORECASE)


def auto_submitted_reason(header: HeaderLookup, *, sender: str, subject: str) -> str | None:
    """Why this message is machine-generated, or None for mail a person wrote.

    `header(name)` returns a header's first value ('' when absent).
    """
    checks: list[tuple[str, str]] = [
        ("Auto-Submitted", header("Auto-Submitted").strip().lower()),
        ("Precedence", header("Precedence").strip().lower()),
        ("X-Autoreply", header("X-Autoreply").strip()),
        ("X-Autorespond", header("X-Autorespond").strip()),
        ("X-Auto-Response-Suppress", header("X-Auto-Response-Suppress").strip()),
        ("List-Id", header("List-Id").strip()),
        ("List-Unsubscribe", header("List-Unsubscribe").strip()),
        ("X-Loop", header("X-Loop").strip()),
    ]
    for name, value in checks:
        if value and _is_automatic(name, value):
            return f"{name}: {_shorten(value)}"
    if MAILER_DAEMON.match(sender):
        return f"sent by {sender}"
    if AUTO_REPLY_SUBJECT.match(subject):
        return f"subject says it is an automatic reply: {_shorten(subject)}"
    return None


def _is_automatic(name: str, value: str) -> bool:
    match name:
        case "Auto-Submitted":
            return value.split(";", 1)[0].strip() != "no"
        case "Precedence":
            return value in BULK_PRECEDENCE
        case "X-Auto-Response-Suppress":
            return bool(SUPPRESS_MEANS_AUTOMATIC.search(value))
        case _:
            return True


def _shorten(value: str, limit: int = 80) -> str:
    flat = " ".join(value.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
