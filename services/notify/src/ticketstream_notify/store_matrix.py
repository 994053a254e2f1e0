"""Admins' changes to the notification matrix and the email templates, and staff members'
channel preferences, in notify's database."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ticketstream.db import Database, Document
from ticketstream_notify.matrix import ChannelChoice, ChannelMode, Preferences, RuleChange
from ticketstream_notify.templates import TemplateSource

TEMPLATES = "templates"
RULES = "notification_rules"
PREFERENCES = "preferences"


def _change_of(document: Document) -> RuleChange:
    def mode(name: str) -> ChannelMode | None:
        value = document.get(name)
        return ChannelMode(value) if value is not None else None

    return RuleChange(enabled=document.get("enabled"), in_app=mode("in_app"), email=mode("email"))


def _choices_of(document: Document | None) -> dict[str, ChannelChoice]:
    kinds: dict[str, Any] = (document or {}).get("kinds", {})
    return {
        kind: ChannelChoice(in_app=choice.get("in_app"), email=choice.get("email"))
        for kind, choice in kinds.items()
    }


# Every ticket event reads the rows and templates in force: a few seconds' cache spares the
# database those reads. Changes through this process apply at once; other replicas see them
# within this time.
CACHE_SECONDS = 5.0


class MatrixStore:
    def __init__(self, database: Database, *, cache_seconds: float = CACHE_SECONDS) -> None:
        self._database = database
        self._cache_seconds = cache_seconds
        self._rules: tuple[float, dict[str, RuleChange]] | None = None
        self._templates: tuple[float, dict[str, TemplateSource]] | None = None

    def _fresh(self, loaded_at: float) -> bool:
        return time.monotonic() - loaded_at < self._cache_seconds

    async def template_overrides(self, kinds: Iterable[str] | None = None) -> dict[str, TemplateSource]:
        if self._templates is None or not self._fresh(self._templates[0]):
            documents = await self._database[TEMPLATES].find().to_list()
            overrides = {
                str(d["_id"]): TemplateSource(subject=d["subject"], text=d["text"], html=d["html"])
                for d in documents
            }
            self._templates = (time.monotonic(), overrides)
        everything = self._templates[1]
        if kinds is None:
            return dict(everything)
        return {kind: everything[kind] for kind in kinds if kind in everything}

    async def save_template(self, kind: str, source: TemplateSource, *, by: str, now: datetime) -> None:
        document = {
            "subject": source.subject,
            "text": source.text,
            "html": source.html,
            "updated_by": by,
            "updated_at": now,
        }
        await self._database[TEMPLATES].replace_one({"_id": kind}, document, upsert=True)
        self._templates = None

    async def template_updates(self) -> dict[str, tuple[str, datetime]]:
        """Who last changed each overridden template, and when."""
        documents = await self._database[TEMPLATES].find({}, {"updated_by": 1, "updated_at": 1}).to_list()
        return {str(d["_id"]): (d["updated_by"], d["updated_at"]) for d in documents}

    async def delete_template(self, kind: str) -> bool:
        """False when there was no override (the default was in force already)."""
        result = await self._database[TEMPLATES].delete_one({"_id": kind})
        self._templates = None
        return result.deleted_count == 1

    async def rule_changes(self) -> dict[str, RuleChange]:
        if self._rules is None or not self._fresh(self._rules[0]):
            documents = await self._database[RULES].find().to_list()
            self._rules = (time.monotonic(), {str(d["_id"]): _change_of(d) for d in documents})
        return dict(self._rules[1])

    async def save_rule_change(self, kind: str, change: RuleChange, *, by: str, now: datetime) -> None:
        """Stores the row as it is now in force (fields left None keep their stored value)."""
        fields: dict[str, Any] = {"updated_by": by, "updated_at": now}
        if change.enabled is not None:
            fields["enabled"] = change.enabled
        if change.in_app is not None:
            fields["in_app"] = change.in_app.value
        if change.email is not None:
            fields["email"] = change.email.value
        await self._database[RULES].update_one({"_id": kind}, {"$set": fields}, upsert=True)
        self._rules = None

    async def preferences_of(self, user_ids: Iterable[str]) -> dict[str, Preferences]:
        ids = list(dict.fromkeys(user_ids))
        if not ids:
            return {}
        documents = await self._database[PREFERENCES].find({"_id": {"$in": ids}}).to_list()
        return {str(d["_id"]): _choices_of(d) for d in documents}

    async def preferences(self, user_id: str) -> dict[str, ChannelChoice]:
        return _choices_of(await self._database[PREFERENCES].find_one({"_id": user_id}))

    async def save_preferences(
        self, user_id: str, choices: dict[str, ChannelChoice], *, now: datetime
    ) -> dict[str, ChannelChoice]:
        """Merges `choices` into the stored ones (a None channel goes back to the row's default)."""
        current = await self.preferences(user_id)
        current.update(choices)
        kinds = {
            kind: {"in_app": choice.in_app, "email": choice.email}
            for kind, choice in current.items()
            if choice.in_app is not None or choice.email is not None
        }
        await self._database[PREFERENCES].replace_one(
            {"_id": user_id}, {"kinds": kinds, "updated_at": now}, upsert=True
        )
        return _choices_of({"kinds": kinds})
