"""The per-recipient mail budget and held mail: counters and holds live in the database, so every
replica sees the same budget, and held mail survives a restart until its digest goes out."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from ticketstream.db import Database, Document, IndexPlan, MongoClient, Session, run_in_transaction
from ticketstream_notify import digests
from ticketstream_notify.digests import BudgetState, MailBudget
from ticketstream_notify.store import MAILS, MailStatus, _mail_of

MAIL_BUDGETS = "mail_budgets"
CLAIM_ATTEMPTS = 3

INDEXES: IndexPlan = {MAIL_BUDGETS: [IndexModel([("window_ends_at", ASCENDING)])]}


class DigestStore:
    def __init__(self, client: MongoClient, database: Database) -> None:
        self._client = client
        self._database = database

    async def take_send_slot(self, recipient: str, *, budget: MailBudget, now: datetime) -> datetime | None:
        """Count one email against the recipient's window. None when it may go now; otherwise
        the end of the full window, when the held mail is due in a digest.

        Each step is one atomic update, so replicas racing for the last slot cannot both win."""
        budgets = self._database[MAIL_BUDGETS]
        key = recipient.lower()
        fresh = {"window_ends_at": now + budget.window, "sent": 1}
        for _ in range(CLAIM_ATTEMPTS):
            held_until = await self._full_until(key, budget=budget, now=now)
            if held_until is not None:
                return held_until  # the common case in a storm: one read, no write
            if await budgets.find_one_and_update(
                {"_id": key, "window_ends_at": {"$gt": now}, "sent": {"$lt": budget.limit}},
                {"$inc": {"sent": 1}},
            ):
                return None
            if await budgets.find_one_and_update(
                {"_id": key, "window_ends_at": {"$lte": now}}, {"$set": fresh}
            ):
                return None
            try:
                await budgets.insert_one({"_id": key, **fresh})
                return None
            except DuplicateKeyError:
                pass  # another replica opened the window first: look again
        # The window changed under us on every attempt; sending is the safer way to be wrong.
        return None

    async def _full_until(self, key: str, *, budget: MailBudget, now: datetime) -> datetime | None:
        current = await self._database[MAIL_BUDGETS].find_one({"_id": key})
        if current is None:
            return None
        state = BudgetState(window_ends_at=current["window_ends_at"], sent=int(current["sent"]))
        return None if digests.may_send(state, budget, now=now) else state.window_ends_at

    async def hold(self, mail_id: str, *, until: datetime) -> None:
        await self._database[MAILS].update_one(
            {"_id": mail_id},
            {"$set": {"status": MailStatus.HELD, "digest_at": until}, "$unset": {"lease_until": ""}},
        )

    async def recipient_with_due_digest(self, *, now: datetime) -> tuple[str, str] | None:
        """(address, audience) of the oldest due held mail: customer and staff mail to one
        address are digested apart."""
        document = await self._database[MAILS].find_one(
            {"status": MailStatus.HELD, "digest_at": {"$lte": now}}, sort=[("digest_at", ASCENDING)]
        )
        if document is None:
            return None
        return str(document["to"]), _audience_of(document)

    async def build_digest(
        self, recipient: str, *, audience: str, support_address: str, now: datetime
    ) -> int:
        """Replace the recipient's due held mail by one pending digest, in one transaction: the
        digest and the items' new state commit together, so an item is never lost or listed twice.
        Returns how many items it holds (0 when another replica built it first)."""

        async def work(session: Session) -> int:
            held = (
                await self._database[MAILS]
                .find(
                    {
                        "status": MailStatus.HELD,
                        "to": recipient,
                        "digest_at": {"$lte": now},
                        **_audience_query(audience),
                    },
                    session=session,
                )
                .to_list()
            )
            if not held:
                return 0
            held_ids = [str(document["_id"]) for document in held]
            mail_id = digests.digest_id(held_ids)
            items = [digests.item_of(_mail_of(d), queued_at=d["created_at"]) for d in held]
            digest = digests.digest_email(
                recipient, items, mail_id=mail_id, support_address=support_address, audience=audience
            )
            await self._database[MAILS].update_many(
                {"_id": {"$in": held_ids}},
                {"$set": {"status": MailStatus.DIGESTED, "digest_id": mail_id}},
                session=session,
            )
            await self._database[MAILS].insert_one(
                {
                    "_id": mail_id,
                    **asdict(digest),
                    "status": MailStatus.PENDING,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                    "digest_items": len(items),
                },
                session=session,
            )
            return len(items)

        return await run_in_transaction(self._client, work)


def _audience_of(document: Document) -> str:
    # Mail queued before the field existed was customer mail (the dataclass default).
    return "staff" if document.get("audience") == "staff" else "customer"


def _audience_query(audience: str) -> Document:
    return {"audience": "staff"} if audience == "staff" else {"audience": {"$ne": "staff"}}
