"""Decisions of the IMAP connector, free of IO: which mailboxes a replica leases, where a mailbox's
sync resumes, and which UIDs are still to be fetched.

Mailboxes are shared out among the live ingest replicas like sla's timer shards: each replica
holds at most its fair share, a lease nobody renewed before it expired is free to take, and a
replica above its share gives the excess back so a newcomer gets work.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


@dataclass(frozen=True)
class MailboxLease:
    mailbox: str
    owner: str
    until: datetime


@dataclass(frozen=True)
class LeasePlan:
    """What one replica does with the leases this round."""

    keep: tuple[str, ...]  # held and within the share: renew
    release: tuple[str, ...]  # held above the share: give back
    candidates: tuple[str, ...]  # free ones, in the order to try taking them
    wanted: int  # how many of the candidates to take

    @property
    def share(self) -> int:
        return len(self.keep) + self.wanted


def fair_share(mailboxes: int, live_replicas: int) -> int:
    """How many mailboxes one replica should hold so that every mailbox has an owner."""
    return math.ceil(mailboxes / max(live_replicas, 1))


def plan_leases(
    mailboxes: Sequence[str],
    leases: Mapping[str, MailboxLease],
    *,
    replica: str,
    live_replicas: int,
    now: datetime,
) -> LeasePlan:
    """Keep what this replica holds up to its fair share, release the rest, and list the free
    mailboxes it may take. A replica's own lease counts as held even when it has just expired:
    renewing it is fenced on the owner, so a replica that took it meanwhile wins."""
    share = fair_share(len(mailboxes), live_replicas)
    configured = set(mailboxes)
    held = sorted(name for name in configured if _owner(leases, name) == replica)
    strays = sorted(
        name for name, lease in leases.items() if lease.owner == replica and name not in configured
    )
    free = [
        name
        for name in mailboxes
        if _owner(leases, name) != replica and (name not in leases or leases[name].until <= now)
    ]
    return LeasePlan(
        keep=tuple(held[:share]),
        release=tuple(held[share:] + strays),
        candidates=tuple(sorted(free, key=lambda name: _preference(replica, name))),
        wanted=max(share - len(held), 0),
    )


def _owner(leases: Mapping[str, MailboxLease], name: str) -> str | None:
    lease = leases.get(name)
    return lease.owner if lease else None


def _preference(replica: str, mailbox: str) -> str:
    # Replicas starting together try the free mailboxes in different orders, so they rarely
    # race for the same one; the order is stable for a replica, so retries agree.
    return hashlib.sha256(f"{replica}/{mailbox}".encode()).hexdigest()


@dataclass(frozen=True)
class MailboxCursor:
    """How far a mailbox has been read: every UID up to `last_uid` went through the intake."""

    mailbox: str
    source: str
    uidvalidity: int
    last_uid: int


class RestartReason(StrEnum):
    FIRST_SYNC = "first sync of this mailbox"
    SOURCE_CHANGED = "the mailbox now names another account, server or folder"
    UIDVALIDITY_CHANGED = "the server renumbered the folder (UIDVALIDITY changed)"


@dataclass(frozen=True)
class ResumePoint:
    after_uid: int
    restart: RestartReason | None = None  # set: record a fresh cursor before fetching


def resume_point(cursor: MailboxCursor | None, *, source: str, uidvalidity: int) -> ResumePoint:
    """Where a sync of the selected folder starts.

    UIDs mean something only together with the UIDVALIDITY they were handed out under: when it
    changed (or the cursor belongs to another account or folder) the old position says nothing,
    so the folder is read from its beginning; the intake's de-duplication by Message-ID keeps
    messages already received from being published twice.
    """
    if cursor is None:
        return ResumePoint(0, RestartReason.FIRST_SYNC)
    if cursor.source != source:
        return ResumePoint(0, RestartReason.SOURCE_CHANGED)
    if cursor.uidvalidity != uidvalidity:
        return ResumePoint(0, RestartReason.UIDVALIDITY_CHANGED)
    return ResumePoint(cursor.last_uid)


def uids_to_fetch(uids: Iterable[int], *, after_uid: int) -> list[int]:
    """The UIDs above the cursor, oldest first. `UID n:*` also answers the newest message when
    every UID is below n (RFC 3501 §6.4.8), so the range alone is not enough."""
    return sorted({uid for uid in uids if uid > after_uid})


def batches(uids: Sequence[int], size: int) -> list[list[int]]:
    return [list(uids[start : start + size]) for start in range(0, len(uids), size)]


def uid_set(uids: Iterable[int]) -> str:
    """An IMAP sequence set naming exactly these UIDs, runs collapsed: 1,2,3,7 -> 1:3,7."""
    ordered = sorted(set(uids))
    runs: list[str] = []
    start = previous = ordered[0] if ordered else 0
    for uid in ordered[1:]:
        if uid != previous + 1:
            runs.append(_run(start, previous))
            start = uid
        previous = uid
    if ordered:
        runs.append(_run(start, previous))
    return ",".join(runs)


def _run(start: int, end: int) -> str:
    return str(start) if start == end else f"{start}:{end}"
