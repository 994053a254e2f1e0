"""IMAP mailboxes in the ingest database: one document per mailbox holding both its lease (owner,
until) and its UID cursor (UIDVALIDITY, last UID), plus a heartbeat per live replica.

Keeping the cursor in the lease document lets every cursor write be fenced on the owner: a
replica that lost a mailbox (paused past its lease, say) cannot move the cursor of the replica
that took it over, and learns from the refused write that it must stop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pymongo.errors import DuplicateKeyError

from ticketstream.db import Database, Document
from ticketstream_ingest.mailboxes import MailboxCursor, MailboxLease, plan_leases

MAILBOXES = "imap_mailboxes"
REPLICAS = "imap_replicas"
NOBODY = ""


@dataclass(frozen=True)
class Holding:
    mine: frozenset[str]  # read these
    excess: frozenset[str]  # stop reading these, then release them


class MailboxStore:
    def __init__(self, database: Database, *, replica: str, lease: timedelta) -> None:
        self._database = database
        self._replica = replica
        self._lease = lease

    async def hold(self, *, mailboxes: Sequence[str], now: datetime) -> Holding:
        """Renew this replica's heartbeat and its leases up to its fair share and take free
        mailboxes up to it. Leases above the share are renewed too, but reported as excess: the
        caller stops reading them, then releases them."""
        until = now + self._lease
        await self._database[REPLICAS].update_one(
            {"_id": self._replica}, {"$set": {"until": until}}, upsert=True
        )
        live = await self._database[REPLICAS].count_documents({"until": {"$gt": now}})
        documents = await self._database[MAILBOXES].find({}, {"owner": 1, "until": 1}).to_list()
        leases = {str(d["_id"]): MailboxLease(str(d["_id"]), d["owner"], d["until"]) for d in documents}
        plan = plan_leases(mailboxes, leases, replica=self._replica, live_replicas=live, now=now)
        renewed: set[str] = set()
        if plan.keep or plan.release:
            held = [*plan.keep, *plan.release]
            await self._database[MAILBOXES].update_many(
                {"_id": {"$in": held}, "owner": self._replica}, {"$set": {"until": until}}
            )
            # Another replica may have taken an expired one between the read and the renewal.
            still_mine = (
                await self._database[MAILBOXES]
                .find({"_id": {"$in": held}, "owner": self._replica}, {"_id": 1})
                .to_list()
            )
            renewed = {str(document["_id"]) for document in still_mine}
        mine = renewed & set(plan.keep)
        for name in plan.candidates:
            if len(mine) >= plan.share:
                break
            if await self._take(name, exists=name in leases, now=now, until=until):
                mine.add(name)
        return Holding(mine=frozenset(mine), excess=frozenset(renewed & set(plan.release)))

    async def _take(self, name: str, *, exists: bool, now: datetime, until: datetime) -> bool:
        if not exists:
            try:
                await self._database[MAILBOXES].insert_one(
                    {"_id": name, "owner": self._replica, "until": until}
                )
            except DuplicateKeyError:  # another replica created it first
                return False
            return True
        result = await self._database[MAILBOXES].update_one(
            {"_id": name, "until": {"$lte": now}}, {"$set": {"owner": self._replica, "until": until}}
        )
        return result.modified_count == 1

    async def release(self, *, mailboxes: Sequence[str], now: datetime) -> None:
        """Give mailboxes back at once (their cursors stay) so another replica takes them."""
        await self._database[MAILBOXES].update_many(
            {"_id": {"$in": list(mailboxes)}, "owner": self._replica},
            {"$set": {"owner": NOBODY, "until": now}},
        )

    async def release_all(self, *, now: datetime) -> None:
        """At shutdown: every lease back and this replica no longer counted as live."""
        await self._database[MAILBOXES].update_many(
            {"owner": self._replica}, {"$set": {"owner": NOBODY, "until": now}}
        )
        await self._database[REPLICAS].delete_one({"_id": self._replica})

    async def cursor(self, *, mailbox: str) -> MailboxCursor | None:
        document = await self._database[MAILBOXES].find_one({"_id": mailbox})
        if document is None or "uidvalidity" not in document:
            return None
        return _cursor(document)

    async def restart(self, *, mailbox: str, source: str, uidvalidity: int, now: datetime) -> bool:
        """Start the mailbox's cursor over under a new UIDVALIDITY or source. False: this replica
        no longer holds the mailbox."""
        result = await self._database[MAILBOXES].update_one(
            {"_id": mailbox, "owner": self._replica},
            {
                "$set": {
                    "source": source,
                    "uidvalidity": uidvalidity,
                    "last_uid": 0,
                    "restarted_at": now,
                    "updated_at": now,
                }
            },
        )
        return result.matched_count == 1

    async def advance(self, *, mailbox: str, uidvalidity: int, uid: int, now: datetime) -> bool:
        """Record that every message up to `uid` went through the intake. Never moves the cursor
        back; False: this replica no longer holds the mailbox (or its cursor was restarted)."""
        result = await self._database[MAILBOXES].update_one(
            {"_id": mailbox, "owner": self._replica, "uidvalidity": uidvalidity},
            {"$max": {"last_uid": uid}, "$set": {"updated_at": now}},
        )
        return result.matched_count == 1


def _cursor(document: Document) -> MailboxCursor:
    return MailboxCursor(
        mailbox=str(document["_id"]),
        source=str(document.get("source", "")),
        uidvalidity=int(document["uidvalidity"]),
        last_uid=int(document.get("last_uid", 0)),
    )
