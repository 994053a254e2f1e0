"""The one way raw email enters ingest, whatever the channel (SMTP, webhook, IMAP).

Parse, screen, store: every message ends as accepted, duplicate or quarantined with a reason.
Only input that is not email at all (empty, no headers) is refused, by raising NotAnEmailError.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from ticketstream.contracts.events import AttachmentRef, InboundChannel
from ticketstream_ingest.attachments import describe_email_attachments
from ticketstream_ingest.domain import (
    MAX_EVENT_HTML_BYTES,
    InvalidEmailError,
    NotAnEmailError,
    ParsedEmail,
    bounce_event,
    clip_utf8,
    message_event,
    parse_email,
)
from ticketstream_ingest.rate_limits import RateScope
from ticketstream_ingest.sanitise import sanitise_html
from ticketstream_ingest.screening import Hold, HoldReason, screen_rate, screen_sender
from ticketstream_ingest.settings import Settings
from ticketstream_ingest.store import AcceptStatus, InboundStore, MessageKind, Received
from ticketstream_ingest.store_files import StoredFile
from ticketstream_ingest.store_quarantine import QuarantineState, QuarantineStore
from ticketstream_ingest.store_rates import RateStore

# Mail loops are counted per sender in clock hours (a loop sends hundreds an hour).
LOOP_WINDOW = timedelta(hours=1)


class IntakeStatus(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    QUARANTINED = "quarantined"


@dataclass(frozen=True)
class IntakeResult:
    status: IntakeStatus
    inbound_id: str
    message_id: str | None
    reason: str | None = None
    hold_reason: HoldReason | None = None


class ReleaseError(Exception):
    """A quarantined message cannot be released; the message says why."""


class EmailIntake:
    def __init__(
        self, store: InboundStore, quarantine: QuarantineStore, rates: RateStore, settings: Settings
    ) -> None:
        self._store = store
        self._quarantine = quarantine
        self._rates = rates
        self._settings = settings

    async def receive(
        self,
        raw: bytes,
        *,
        channel: InboundChannel,
        now: datetime,
        signature_problem: str | None = None,
        delivered_to: Sequence[str] = (),
    ) -> IntakeResult:
        """Store one raw message and its event, or hold it in quarantine with the reason.

        `delivered_to` are the SMTP envelope recipients (they may name a plus-address the headers
        do not). Raises NotAnEmailError for input that is not email at all (the edge answers 4xx/5xx).
        """
        if signature_problem is not None:
            return await self._hold_raw(raw, Hold(HoldReason.SIGNATURE, signature_problem), channel, now)
        if len(raw) > self._settings.inbound_max_bytes:
            return await self._hold_oversize(raw, channel, now)
        try:
            parsed = parse_email(
                raw,
                support_address=self._settings.support_address,
                delivered_to=delivered_to,
                trusted_authserv_id=self._settings.inbound_authserv_id,
            )
        except NotAnEmailError:
            raise
        except InvalidEmailError as error:
            return await self._hold_raw(raw, Hold(HoldReason.MALFORMED, str(error)), channel, now)
        duplicate_of = await self._store.find_duplicate(parsed.dedupe_key)
        if duplicate_of is not None:
            return _duplicate(duplicate_of, parsed)
        hold = await self._screen(parsed, now)
        if hold is not None:
            return await self._hold_parsed(raw, parsed, hold, channel, now)
        return await self._accept(raw, parsed, channel, now)

    async def release(self, entry_id: str, *, by: str, now: datetime) -> IntakeResult:
        """Ingest a quarantined message as if it had just arrived, without the checks that held it."""
        entry = await self._quarantine.get(entry_id)
        if entry is None or entry.state is not QuarantineState.HELD:
            raise ReleaseError("no held message with this id")
        if entry.reason is HoldReason.OVERSIZE:
            raise ReleaseError(
                "only the start of this oversize message was kept; it cannot be ingested whole"
            )
        raw = await self._quarantine.raw(entry_id)
        if raw is None:
            raise ReleaseError("the held message's bytes are missing")
        try:
            parsed = parse_email(raw, support_address=self._settings.support_address)
        except InvalidEmailError as error:
            raise ReleaseError(f"the message still cannot be read: {error}; discard it instead") from error
        duplicate_of = await self._store.find_duplicate(parsed.dedupe_key)
        result = (
            _duplicate(duplicate_of, parsed)
            if duplicate_of is not None
            else await self._accept(raw, parsed, entry.channel, now)
        )
        await self._quarantine.resolve(
            entry_id, state=QuarantineState.RELEASED, by=by, now=now, released_as=result.inbound_id
        )
        return result

    async def _screen(self, parsed: ParsedEmail, now: datetime) -> Hold | None:
        hold = screen_sender(
            parsed,
            support_address=self._settings.support_address,
            own_addresses=self._settings.extra_inbound_addresses,
            blocked=self._settings.blocked_senders,
        )
        if hold is not None or not self._settings.inbound_sender_limit_per_hour:
            return hold
        counts = await self._rates.hit(
            channel="email", keys={RateScope.SENDER: parsed.sender.email}, now=now, window=LOOP_WINDOW
        )
        return screen_rate(
            sender=parsed.sender.email,
            count_this_hour=counts[RateScope.SENDER].current,
            limit_per_hour=self._settings.inbound_sender_limit_per_hour,
        )

    async def _accept(
        self, raw: bytes, parsed: ParsedEmail, channel: InboundChannel, now: datetime
    ) -> IntakeResult:
        inbound_id = str(uuid.uuid4())
        if parsed.delivery_notice:
            # "Delayed" or "delivered" reports: kept (and visible to admins in the raw store), but
            # they are no customer's request and not a failure of a reply, so nothing is published.
            received = Received(
                inbound_id=inbound_id,
                parsed=parsed,
                raw=raw,
                channel=channel,
                kind=MessageKind.DELIVERY_NOTICE,
                event=None,
                event_key=parsed.thread_root,
                received_at=now,
            )
        elif parsed.bounce is not None:
            received = Received(
                inbound_id=inbound_id,
                parsed=parsed,
                raw=raw,
                channel=channel,
                kind=MessageKind.BOUNCE,
                event=bounce_event(parsed, parsed.bounce, inbound_id=inbound_id, now=now),
                event_key=parsed.bounce.original_message_id or parsed.thread_root,
                received_at=now,
            )
        else:
            files = self._files_to_keep(parsed)
            received = Received(
                inbound_id=inbound_id,
                parsed=parsed,
                raw=raw,
                channel=channel,
                kind=MessageKind.MESSAGE,
                event=message_event(
                    parsed,
                    inbound_id=inbound_id,
                    channel=channel,
                    now=now,
                    html_body=(
                        sanitise_html(clip_utf8(parsed.html_body, MAX_EVENT_HTML_BYTES)[0])
                        if parsed.html_body
                        else None
                    ),
                    attachments=[file.ref for file in files],
                ),
                event_key=parsed.thread_root,
                received_at=now,
                files=tuple(file for file in files if file.ref.storage_id),
            )
        result = await self._store.accept(received)
        if result.status is AcceptStatus.DUPLICATE:
            return _duplicate(result.inbound_id, parsed)
        return IntakeResult(IntakeStatus.ACCEPTED, result.inbound_id, result.message_id)

    def _files_to_keep(self, parsed: ParsedEmail) -> list[StoredFile]:
        """Each attachment to store; one over the per-file limit is listed but kept only in the raw mail."""
        limit = self._settings.inbound_attachment_max_bytes
        files = []
        for file in describe_email_attachments(parsed.attachments):
            too_big = file.size > limit
            ref = AttachmentRef(
                filename=file.filename,
                content_type=file.content_type,
                size=file.size,
                storage_id="" if too_big else f"att-{uuid.uuid4()}",
                inline=file.inline,
                withheld=f"larger than the {limit}-byte limit for one attachment" if too_big else None,
            )
            files.append(StoredFile(ref=ref, data=b"" if too_big else file.data))
        return files

    async def _hold_parsed(
        self, raw: bytes, parsed: ParsedEmail, hold: Hold, channel: InboundChannel, now: datetime
    ) -> IntakeResult:
        outcome = await self._quarantine.hold(
            hold=hold,
            raw=raw,
            dedupe_key=parsed.dedupe_key,
            channel=channel,
            sender=parsed.sender.email,
            subject=parsed.subject,
            message_id=parsed.message_id,
            now=now,
        )
        return IntakeResult(
            IntakeStatus.QUARANTINED, outcome.entry_id, parsed.message_id, hold.detail, hold.reason
        )

    async def _hold_raw(self, raw: bytes, hold: Hold, channel: InboundChannel, now: datetime) -> IntakeResult:
        outcome = await self._quarantine.hold(
            hold=hold,
            raw=raw,
            dedupe_key=f"sha256:{hashlib.sha256(raw).hexdigest()}",
            channel=channel,
            sender=None,
            subject=None,
            message_id=None,
            now=now,
        )
        return IntakeResult(IntakeStatus.QUARANTINED, outcome.entry_id, None, hold.detail, hold.reason)

    async def hold_oversize(
        self, header: bytes, *, size: int, channel: InboundChannel, now: datetime, where: str
    ) -> IntakeResult:
        """Quarantine the header block of a message too large to take whole (it stays at `where`)."""
        limit = self._settings.inbound_max_bytes
        hold = Hold(
            HoldReason.OVERSIZE,
            f"the message is {size} bytes, over the limit of {limit}; only its headers are kept, "
            f"the message itself stays in {where}",
        )
        kept = header[:limit]
        try:
            parsed = parse_email(kept, support_address=self._settings.support_address)
        except InvalidEmailError:
            return await self._hold_raw(kept, hold, channel, now)
        return await self._hold_parsed(kept, parsed, hold, channel, now)

    async def _hold_oversize(self, raw: bytes, channel: InboundChannel, now: datetime) -> IntakeResult:
        limit = self._settings.inbound_max_bytes
        hold = Hold(
            HoldReason.OVERSIZE,
            f"the message is {len(raw)} bytes, over the limit of {limit}; its first {limit} bytes are kept",
        )
        return await self._hold_raw(raw[:limit], hold, channel, now)


def _duplicate(inbound_id: str, parsed: ParsedEmail) -> IntakeResult:
    return IntakeResult(
        IntakeStatus.DUPLICATE, inbound_id, parsed.message_id, reason="this message was received before"
    )


__all__ = ["EmailIntake", "IntakeResult", "IntakeStatus", "NotAnEmailError", "ReleaseError"]
