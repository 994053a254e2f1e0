"""The notify database: in-app notifications, outgoing mail and its delivery state, and the
tickets as notify last saw them (so SLA events, which carry no ticket, can be addressed)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument

from ticketstream.contracts import Envelope, encode_event
from ticketstream.contracts.events import NotifyDelivered, NotifyEvent, NotifyFailed
from ticketstream.contracts.models import TicketSnapshot
from ticketstream.db import Database, Document, IndexPlan, MongoClient, Session, run_in_transaction
from ticketstream.inbox import apply_once
from ticketstream.outbox import enqueue
from ticketstream_notify import domain
from ticketstream_notify.domain import InAppNotification, OutgoingEmail
from ticketstream_notify.sla_notices import Thread

NOTIFICATIONS = "notifications"
MAILS = "mails"
TICKETS = "tickets"
CONSUMER = "notify"
SENDING_LEASE = timedelta(seconds=60)


class MailStatus:
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    STORED = "stored"  # dev without a relay: kept for GET /v1/dev/mail
    FAILED = "failed"
    HELD = "held"  # over the recipient's budget: waits for the digest at the window's end
    DIGESTED = "digested"  # went out as an item of the digest named by `digest_id`
    SUPPRESSED = "suppressed"  # not sent: the address bounced (see store_suppression)


INDEXES: IndexPlan = {
    NOTIFICATIONS: [IndexModel([("recipient", ASCENDING), ("created_at", DESCENDING)])],
    MAILS: [
        IndexModel([("status", ASCENDING), ("next_attempt_at", ASCENDING)]),
        IndexModel([("created_at", DESCENDING)]),
        IndexModel([("status", ASCENDING), ("digest_at", ASCENDING), ("to", ASCENDING)]),
        IndexModel([("message_id", ASCENDING)]),  # a bounce names the mail it reports
    ],
}


def _mail_of(document: Document) -> OutgoingEmail:
    # Mail queued before a field existed lacks it: the dataclass default applies.
    fields = {name: document[name] for name in OutgoingEmail.__dataclass_fields__ if name in document}
    fields["references"] = tuple(fields["references"])
    return OutgoingEmail(**fields)


class NotifyStore:
    def __init__(self, client: MongoClient, database: Database, *, on_commit: Callable[[], None]):
        self._client = client
        self._database = database
        self._on_commit = on_commit

    async def record(
        self,
        envelope: Envelope,
        *,
        notifications: list[InAppNotification],
        mails: list[OutgoingEmail],
        now: datetime,
        ticket: TicketSnapshot | None = None,
        message_id: str | None = None,
    ) -> bool:
        """Store what an event causes, once: ids derive from the event id and the recipient.
        A ticket event also brings notify's copy of the ticket (and its thread) up to date."""

        async def work(session: Session) -> bool:
            if ticket is not None:
                await self._follow(ticket, message_id, session)
            for notification in notifications:
                await self._database[NOTIFICATIONS].insert_one(
                    {
                        "_id": f"{envelope.id}:{notification.recipient}",
                        **asdict(notification),
                        "read_by": [],
                        "created_at": now,
                    },
                    session=session,
                )
            for mail_id, mail in domain.mails_by_id(envelope.id, mails).items():
                await self._database[MAILS].insert_one(
                    {
                        "_id": mail_id,
                        **asdict(mail),
                        "status": MailStatus.PENDING,
                        "attempts": 0,
                        "next_attempt_at": now,
                        "created_at": now,
                    },
                    session=session,
                )
            return True

        return bool(await apply_once(self._client, self._database, envelope, consumer=CONSUMER, work=work))

    async def _follow(self, ticket: TicketSnapshot, message_id: str | None, session: Session) -> None:
        known = await self._database[TICKETS].find_one({"_id": ticket.id}, session=session)
        if known is not None and known["version"] >= ticket.version:
            return  # an older version of the ticket than the one kept
        latest = message_id or (known or {}).get("thread_latest")
        document = {
            "_id": ticket.id,
            "version": ticket.version,
            "snapshot": ticket.model_dump(mode="json"),
            "thread_latest": latest,
        }
        await self._database[TICKETS].replace_one({"_id": ticket.id}, document, upsert=True, session=session)

    async def ticket(self, ticket_id: str) -> tuple[TicketSnapshot, Thread] | None:
        """The ticket as notify last saw it, with its email thread; None before its first event."""
        document = await self._database[TICKETS].find_one({"_id": ticket_id})
        if document is None:
            return None
        snapshot = TicketSnapshot.model_validate(document["snapshot"])
        return snapshot, Thread(root=snapshot.email_thread_id, latest=document.get("thread_latest"))

    async def claim_due_mail(self, *, now: datetime) -> tuple[str, OutgoingEmail, int] | None:
        """Take one due mail for sending; a lease keeps other replicas off it meanwhile."""
        claim = {"$set": {"status": MailStatus.SENDING, "lease_until": now + SENDING_LEASE}}
        # Two indexed queries rather than one $or: due mail first, then mail whose sender died.
        document = await self._database[MAILS].find_one_and_update(
            {"status": MailStatus.PENDING, "next_attempt_at": {"$lte": now}},
            claim,
            sort=[("next_attempt_at", ASCENDING)],
            return_document=ReturnDocument.AFTER,
        ) or await self._database[MAILS].find_one_and_update(
            {"status": MailStatus.SENDING, "lease_until": {"$lt": now}},
            claim,
            return_document=ReturnDocument.AFTER,
        )
        if document is None:
            return None
        return str(document["_id"]), _mail_of(document), int(document["attempts"])

    async def mark_delivered(
        self, mail_id: str, mail: OutgoingEmail, *, stored_only: bool, now: datetime
    ) -> None:
        status = MailStatus.STORED if stored_only else MailStatus.SENT
        event = NotifyDelivered(
            notification_id=mail_id,
            ticket_id=mail.ticket_id,
            ref=mail.ref,
            channel="email",
            recipient=mail.to,
            occurred_at=now,
            # Only customer mail is part of a ticket's thread: tickets learns these Message-IDs, so
            # a customer's answer threads; a staff member's answer to a staff email must not.
            message_id=mail.message_id if mail.audience == "customer" else None,
        )
        await self._finish_mail(mail_id, {"status": status, "delivered_at": now}, event)

    async def mark_failed(
        self,
        mail_id: str,
        mail: OutgoingEmail,
        *,
        error: str,
        attempts: int,
        retry_at: datetime | None,
        now: datetime,
        status: str = MailStatus.FAILED,
    ) -> None:
        """Schedule a retry, or give up (retry_at None) and publish notify.failed."""
        if retry_at is not None:
            await self._database[MAILS].update_one(
                {"_id": mail_id},
                {
                    "$set": {
                        "status": MailStatus.PENDING,
                        "attempts": attempts,
                        "next_attempt_at": retry_at,
                        "last_error": error,
                    }
                },
            )
            return
        event = NotifyFailed(
            notification_id=mail_id,
            ticket_id=mail.ticket_id,
            ref=mail.ref,
            channel="email",
            recipient=mail.to,
            message_id=mail.message_id,
            occurred_at=now,
            error=error,
            permanent=True,
        )
        await self._finish_mail(mail_id, {"status": status, "attempts": attempts, "last_error": error}, event)

    async def _finish_mail(self, mail_id: str, changes: dict[str, Any], event: NotifyEvent) -> None:
        async def work(session: Session) -> None:
            await self._database[MAILS].update_one({"_id": mail_id}, {"$set": changes}, session=session)
            await enqueue(
                self._database,
                session,
                encode_event(
                    event, service="notify", key=event.ticket_id or event.recipient, subject=event.ref
                ),
            )

        await run_in_transaction(self._client, work)
        self._on_commit()

    async def notifications_for(
        self, recipients: list[str], *, reader: str, limit: int
    ) -> tuple[list[Document], int]:
        """Newest first, and how many `reader` has not read. Read state is per person, so one
        team notification read by one member stays unread for the others."""
        query = {"recipient": {"$in": recipients}}
        documents = (
            await self._database[NOTIFICATIONS]
            .find(query)
            .sort("created_at", DESCENDING)
            .limit(limit)
            .to_list()
        )
        unread = await self._database[NOTIFICATIONS].count_documents({**query, "read_by": {"$ne": reader}})
        return documents, unread

    async def mark_read(self, notification_id: str, recipients: list[str], *, reader: str) -> bool:
        """False when no notification with this id is addressed to the reader."""
        result = await self._database[NOTIFICATIONS].update_one(
            {"_id": notification_id, "recipient": {"$in": recipients}}, {"$addToSet": {"read_by": reader}}
        )
        return result.matched_count == 1

    async def mark_all_read(self, recipients: list[str], *, reader: str) -> int:
        result = await self._database[NOTIFICATIONS].update_many(
            {"recipient": {"$in": recipients}, "read_by": {"$ne": reader}}, {"$addToSet": {"read_by": reader}}
        )
        return result.modified_count

    async def recent_mail(self, *, limit: int) -> list[Document]:
        return await self._database[MAILS].find().sort("created_at", DESCENDING).limit(limit).to_list()
