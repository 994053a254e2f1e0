"""Reading ticket lists from the tickets database, and keeping their search terms complete."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pymongo import ASCENDING, DESCENDING

from ticketstream.contracts.models import TicketSnapshot
from ticketstream.db import Database, Document
from ticketstream_tickets import listing
from ticketstream_tickets.store import TICKET_REF_COUNTER
from ticketstream_tickets.store_documents import COUNTERS, TICKETS, ticket_of

log = logging.getLogger(__name__)

MIN_PAGE_WINDOW = 256
# Windows grow 4x while filters leave a page short. A read that only takes `limit` documents
# needs no cap; a read checked after the database (more search words) is capped, as the
# embedded server holds a whole window's candidates in memory.
MAX_PAGE_WINDOW = 1 << 20
MAX_CHECKED_WINDOW = 8_192
BACKFILL_WINDOW = 1_000
SEARCH_TERMS_BACKFILLED = "search_terms_backfilled"


@dataclass(frozen=True)
class TicketPage:
    items: list[TicketSnapshot]
    next_cursor: str | None


class TicketListStore:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def list_tickets(
        self,
        filters: listing.TicketFilter,
        *,
        limit: int,
        cursor: int | None,
        order: listing.SortOrder = listing.SortOrder.NEWEST,
    ) -> TicketPage:
        """A page in ticket-number order; the cursor is the last number of the previous page.

        Ticket numbers are dense (gap-free refs), so a page is read as bounded number windows
        walking from the cursor, growing while filters leave them short. Each query is an index
        range, so a page costs about the same at ticket 100 as at ticket 100,000.
        """
        plan = filters.plan()
        if not plan.queries:
            return TicketPage([], None)
        newest_first = order is listing.SortOrder.NEWEST
        highest = await self.highest_ticket_number()
        if newest_first:
            edge = min(cursor, highest + 1) if cursor is not None else highest + 1
        else:
            edge = cursor if cursor is not None else 0
        window = max(4 * (limit + 1), MIN_PAGE_WINDOW)
        checked = any(query.checked for query in plan.queries)
        cap = MAX_CHECKED_WINDOW if checked else MAX_PAGE_WINDOW
        found: dict[int, Document] = {}
        while len(found) <= limit and (edge > 1 if newest_first else edge < highest):
            lower, upper = (max(edge - window, 1), edge) if newest_first else (edge + 1, edge + 1 + window)
            for query in plan.queries:
                matches = await self._read_window(query, lower, upper, limit + 1, newest_first=newest_first)
                found.update((document["number"], document) for document in matches)
            edge = lower if newest_first else upper - 1
            window = min(window * 4, cap)
        numbers = sorted(found, reverse=newest_first)
        if checked:
            page = await self._whole_documents(numbers[:limit])
        else:
            page = [found[number] for number in numbers[:limit]]
        next_cursor = str(numbers[limit - 1]) if len(numbers) > limit else None
        return TicketPage([ticket_of(document) for document in page], next_cursor)

    async def _read_window(
        self, query: listing.WindowQuery, lower: int, upper: int, wanted: int, *, newest_first: bool
    ) -> list[Document]:
        """The first `wanted` matches of one window.

        Candidates checked after reading are read without a limit, so none is skipped, and only
        with the fields the checks need, so a window of long descriptions stays small.
        """
        tickets = self._database[TICKETS]
        direction = DESCENDING if newest_first else ASCENDING
        window = query.in_window(lower, upper)
        if not query.checked:
            return await tickets.find(window).sort("number", direction).limit(wanted).to_list()
        candidates = await tickets.find(window, query.projection).sort("number", direction).to_list()
        return [candidate for candidate in candidates if query.accepts(candidate)][:wanted]

    async def _whole_documents(self, numbers: list[int]) -> list[Document]:
        """The tickets of a page whose candidates were read with only the fields checks needed."""
        documents = await self._database[TICKETS].find({"number": {"$in": numbers}}).to_list()
        by_number = {document["number"]: document for document in documents}
        return [by_number[number] for number in numbers if number in by_number]

    async def highest_ticket_number(self) -> int:
        counter = await self._database[COUNTERS].find_one({"_id": TICKET_REF_COUNTER})
        return int(counter["value"]) if counter else 0

    async def backfill_search_terms(self) -> None:
        """Give tickets stored before search terms existed their terms, once per database.

        Runs in the background at start; the walk reads every ticket, so it is recorded as done
        rather than repeated at every start. Each update is guarded by the version read, so a
        ticket saved meanwhile keeps the fresh terms its save wrote; a window that fails is logged,
        and the walk goes on and is tried again at the next start.
        """
        if await self._database[COUNTERS].find_one({"_id": SEARCH_TERMS_BACKFILLED}):
            return
        updated, failed = 0, False
        highest = await self.highest_ticket_number()
        for lower in range(1, highest + 1, BACKFILL_WINDOW):
            try:
                updated += await self._backfill_window(lower, lower + BACKFILL_WINDOW)
            except Exception:  # one bad window must not stop the rest
                log.exception("search terms of tickets from %d not backfilled", lower)
                failed = True
        if not failed:
            await self._database[COUNTERS].update_one(
                {"_id": SEARCH_TERMS_BACKFILLED}, {"$set": {"value": updated}}, upsert=True
            )
        if updated:
            log.info("search terms backfilled on %d tickets", updated)

    async def _backfill_window(self, lower: int, upper: int) -> int:
        missing = {"number": {"$gte": lower, "$lt": upper}, "search_terms": {"$exists": False}}
        updated = 0
        for document in await self._database[TICKETS].find(missing).to_list():
            ticket = ticket_of(document)
            result = await self._database[TICKETS].update_one(
                {"_id": ticket.id, "version": ticket.version},
                {"$set": {"search_terms": listing.search_terms_of(ticket)}},
            )
            updated += result.modified_count
        return updated
