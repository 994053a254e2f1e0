"""The sla database's administered definitions: SLA policies (versioned) and business calendars."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime

from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from ticketstream.db import Database, IndexPlan, MongoClient, Session, run_in_transaction
from ticketstream_sla.business_hours import BusinessCalendar
from ticketstream_sla.calendars import CalendarSpec, built_in, business_calendar, check_open
from ticketstream_sla.documents import (
    calendar_document,
    calendar_spec_of,
    policy_document,
    policy_of,
)
from ticketstream_sla.policies import DEFAULT_POLICIES, TWENTY_FOUR_SEVEN, Policy, checked

POLICIES = "policies"
POLICY_VERSIONS = "policy_versions"
CALENDARS = "calendars"
CLOCKS = "clocks"  # read only, to refuse deleting a calendar that clocks still count on

INDEXES: IndexPlan = {
    POLICIES: [IndexModel([("priority", ASCENDING)])],
    POLICY_VERSIONS: [IndexModel([("policy_id", ASCENDING), ("version", ASCENDING)])],
}


class AlreadyExistsError(LookupError):
    pass


class NotFoundError(LookupError):
    pass


class InUseError(ValueError):
    pass


class AdminStore:
    def __init__(self, client: MongoClient, database: Database, *, today: Callable[[], date] | None = None):
        self._client = client
        self._database = database
        self._today = today or (lambda: datetime.now(UTC).date())
        # Building a calendar expands public holidays: reuse it until the definition changes.
        self._built: dict[tuple[str, int, date], BusinessCalendar] = {}

    # --- policies ------------------------------------------------------------------------

    async def seed_default_policies(self) -> None:
        """Insert the default policies that are missing; edited ones stay as they are."""
        for policy in DEFAULT_POLICIES:
            try:
                await self.save_policy(policy, create=True)
            except AlreadyExistsError:
                continue

    async def policies(self, *, session: Session | None = None) -> list[Policy]:
        documents = await self._database[POLICIES].find({}, session=session).to_list()
        return [policy_of(document) for document in documents]

    async def policy(self, policy_id: str) -> Policy | None:
        document = await self._database[POLICIES].find_one({"_id": policy_id})
        return policy_of(document) if document is not None else None

    async def policy_versions(self, policy_id: str) -> list[Policy]:
        documents = (
            await self._database[POLICY_VERSIONS]
            .find({"policy_id": policy_id})
            .sort("version", ASCENDING)
            .to_list()
        )
        return [policy_of(document) for document in documents]

    async def save_policy(self, policy: Policy, *, create: bool) -> Policy:
        """Create (version 1) or replace (next version); PolicyError lists what is wrong."""

        async def work(session: Session) -> Policy:
            current = await self._database[POLICIES].find_one({"_id": policy.id}, session=session)
            if create and current is not None:
                raise AlreadyExistsError(f"policy {policy.id} exists; PUT changes it")
            if not create and current is None:
                raise NotFoundError(f"no policy {policy.id}")
            calendar_ids = await self._database[CALENDARS].distinct("_id", session=session)
            version = 1 if current is None else current["version"] + 1
            saved = checked(replace(policy, version=version), calendar_ids=calendar_ids)
            document = policy_document(saved)
            await self._database[POLICIES].replace_one(
                {"_id": saved.id}, document, upsert=True, session=session
            )
            history = {
                **document,
                "_id": f"{saved.id}@{version}",
                "policy_id": saved.id,
                "saved_at": datetime.now(UTC),
            }
            await self._database[POLICY_VERSIONS].insert_one(history, session=session)
            return saved

        try:
            return await run_in_transaction(self._client, work)
        except DuplicateKeyError as error:  # two creates of one id at once
            raise AlreadyExistsError(f"policy {policy.id} exists; PUT changes it") from error

    # --- calendars -----------------------------------------------------------------------

    async def calendar_specs(self) -> list[CalendarSpec]:
        documents = await self._database[CALENDARS].find().sort("_id", ASCENDING).to_list()
        return [calendar_spec_of(document) for document in documents]

    async def calendar_spec(self, calendar_id: str) -> CalendarSpec | None:
        document = await self._database[CALENDARS].find_one({"_id": calendar_id})
        return calendar_spec_of(document) if document is not None else None

    async def save_calendar(self, spec: CalendarSpec, *, create: bool) -> CalendarSpec:
        """InvalidCalendarError says what is wrong with the definition."""
        # Raises before anything is stored.
        check_open(business_calendar(spec, today=self._today()), now=datetime.now(UTC))
        current = await self.calendar_spec(spec.id)
        if create and current is not None:
            raise AlreadyExistsError(f"calendar {spec.id} exists; PUT changes it")
        if not create and current is None:
            raise NotFoundError(f"no calendar {spec.id}")
        saved = replace(spec, version=1 if current is None else current.version + 1)
        try:
            await self._database[CALENDARS].replace_one(
                {"_id": saved.id}, calendar_document(saved), upsert=True
            )
        except DuplicateKeyError as error:
            raise AlreadyExistsError(f"calendar {spec.id} exists; PUT changes it") from error
        return saved

    async def delete_calendar(self, calendar_id: str) -> None:
        users = await self._database[POLICIES].find({"calendar_id": calendar_id}).to_list()
        if users:
            names = ", ".join(sorted(document["_id"] for document in users))
            raise InUseError(f"calendar {calendar_id} is used by policies {names}")
        live = {"calendar_id": calendar_id, "state": {"$in": ["running", "paused"]}}
        if await self._database[CLOCKS].find_one(live) is not None:
            raise InUseError(f"calendar {calendar_id} is still counting running or paused clocks")
        result = await self._database[CALENDARS].delete_one({"_id": calendar_id})
        if result.deleted_count == 0:
            raise NotFoundError(f"no calendar {calendar_id}")

    async def calendar(self, calendar_id: str, *, session: Session | None = None) -> BusinessCalendar:
        """The calendar clocks count on; the built-in 24x7 one for an unknown id (a clock that
        stopped before its calendar was deleted)."""
        if calendar_id == TWENTY_FOUR_SEVEN:
            return built_in()
        document = await self._database[CALENDARS].find_one({"_id": calendar_id}, session=session)
        if document is None:
            return built_in()
        key = (calendar_id, document["version"], self._today())
        if key not in self._built:
            self._built = {k: v for k, v in self._built.items() if k[0] != calendar_id}
            self._built[key] = business_calendar(calendar_spec_of(document), today=key[2])
        return self._built[key]
