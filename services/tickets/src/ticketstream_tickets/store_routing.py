"""Routing rules and teams' assignment state in the tickets database."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError

from ticketstream.contracts.models import Priority, TicketStatus
from ticketstream.db import Database, Document, IndexPlan, Session
from ticketstream_tickets import routing
from ticketstream_tickets.domain import DomainError, NewTicket

RULES = "routing_rules"
TEAMS = "teams"
ROUTING_TURNS = "routing_turns"
TICKETS = "tickets"
ACTIVE_STATUSES = [
    status.value for status in TicketStatus if status not in {TicketStatus.RESOLVED, TicketStatus.CLOSED}
]

INDEXES: IndexPlan = {RULES: [IndexModel([("position", ASCENDING)])]}


def _rule_document(rule: routing.RoutingRule) -> Document:
    document = asdict(rule)
    document["_id"] = document.pop("id")
    document["strategy"] = rule.strategy.value
    document["priority"] = rule.priority.value if rule.priority else None
    return {name: list(value) if isinstance(value, tuple) else value for name, value in document.items()}


def _rule_of(document: Document) -> routing.RoutingRule:
    fields: dict[str, Any] = {name: value for name, value in document.items() if name != "_id"}
    for name in ("categories", "labels", "sender_domains", "keywords", "add_tags"):
        fields[name] = tuple(fields.get(name) or ())
    fields["strategy"] = routing.AssignStrategy(fields.get("strategy") or "none")
    fields["priority"] = Priority(fields["priority"]) if fields.get("priority") else None
    return routing.RoutingRule(id=document["_id"], **fields)


class RuleNotFoundError(LookupError):
    pass


class RoutingStore:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def seed_default_rules(self) -> None:
        """Insert the default rules once; an admin's later edits or deletion are respected."""
        for rule in routing.DEFAULT_RULES:
            seeded = await self._database["seeded"].find_one({"_id": f"rule:{rule.id}"})
            if seeded is None:
                await self._database[RULES].update_one(
                    {"_id": rule.id}, {"$setOnInsert": _rule_document(rule)}, upsert=True
                )
                await self._database["seeded"].update_one(
                    {"_id": f"rule:{rule.id}"}, {"$set": {"rule": rule.id}}, upsert=True
                )

    async def rules(self, session: Session | None = None) -> list[routing.RoutingRule]:
        documents = await self._database[RULES].find(session=session).sort("position", ASCENDING).to_list()
        return [_rule_of(document) for document in documents]

    async def get(self, rule_id: str) -> routing.RoutingRule | None:
        document = await self._database[RULES].find_one({"_id": rule_id})
        return _rule_of(document) if document else None

    async def create(self, rule: routing.RoutingRule) -> routing.RoutingRule:
        rule.validate()
        try:
            await self._database[RULES].insert_one(_rule_document(rule))
        except DuplicateKeyError as error:
            raise DomainError(f"a routing rule with id {rule.id!r} exists") from error
        return rule

    async def replace(self, rule: routing.RoutingRule) -> routing.RoutingRule:
        rule.validate()
        result = await self._database[RULES].replace_one({"_id": rule.id}, _rule_document(rule))
        if result.matched_count == 0:
            raise RuleNotFoundError(rule.id)
        return rule

    async def delete(self, rule_id: str) -> None:
        if (await self._database[RULES].delete_one({"_id": rule_id})).deleted_count == 0:
            raise RuleNotFoundError(rule_id)

    async def route(self, session: Session, request: NewTicket) -> NewTicket:
        """Apply the first matching rule to a new ticket, picking an assignee when it says so."""
        decision = routing.decide(request, await self.rules(session))
        if decision is None:
            return request
        assignee = decision.assignee_id or await self._pick_assignee(session, decision)
        return routing.apply_decision(request, decision, assignee_id=assignee)

    async def _pick_assignee(self, session: Session, decision: routing.RoutingDecision) -> str | None:
        if decision.strategy is routing.AssignStrategy.NONE or not decision.team:
            return None
        team = await self._database[TEAMS].find_one({"_id": decision.team}, session=session)
        members = list(team.get("member_ids", [])) if team else []
        if not members:
            return None
        if decision.strategy is routing.AssignStrategy.ROUND_ROBIN:
            turn = await self._database[ROUTING_TURNS].find_one_and_update(
                {"_id": decision.team},
                {"$inc": {"turn": 1}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
                session=session,
            )
            return routing.round_robin_pick(members, int(turn["turn"]) - 1 if turn else 0)
        load = {
            member: await self._database[TICKETS].count_documents(
                {"assignee_ids": member, "status": {"$in": ACTIVE_STATUSES}}, session=session
            )
            for member in members
        }
        return routing.least_loaded_pick(load)
