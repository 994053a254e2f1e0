"""Admin-managed vocabulary of tickets: the category list, the label list and custom fields.

A managed list may be advisory (agents may use other values) or restricted (only its values).
Custom fields are typed; a field may be required before a ticket is resolved. Only what a caller
sends is checked, so values of a field deleted later stay readable and never block other edits.
No IO here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum

from ticketstream.contracts.models import CustomFieldValue, TicketSnapshot, TicketStatus
from ticketstream_tickets.domain import DomainError, NewTicket
from ticketstream_tickets.lifecycle import TicketPatch

FIELD_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_TEXT = 2_000
FINISHED = frozenset({TicketStatus.RESOLVED, TicketStatus.CLOSED})


class FieldType(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"
    SELECT = "select"
    MULTI_SELECT = "multi_select"


@dataclass(frozen=True)
class FieldDefinition:
    key: str
    label: str
    type: FieldType
    options: tuple[str, ...] = ()
    required_to_resolve: bool = False

    def __post_init__(self) -> None:
        if not FIELD_KEY.match(self.key):
            raise DomainError(
                "a field key is lower-case letters, digits and _, starting with a letter (at most 40)",
                {"key": self.key},
            )
        choice = self.type in {FieldType.SELECT, FieldType.MULTI_SELECT}
        if choice and not self.options:
            raise DomainError(f"a {self.type.value} field needs its options", {"key": self.key})
        if not choice and self.options:
            raise DomainError(f"a {self.type.value} field has no options", {"key": self.key})
        if len(set(self.options)) != len(self.options):
            raise DomainError("options must be unique", {"key": self.key})


@dataclass(frozen=True)
class ManagedList:
    values: tuple[str, ...] = ()
    restricted: bool = False

    def outsiders(self, candidates: Iterable[str]) -> list[str]:
        if not self.restricted:
            return []
        return sorted(set(candidates) - set(self.values))


@dataclass(frozen=True)
class Vocabulary:
    categories: ManagedList = ManagedList()
    labels: ManagedList = ManagedList()
    fields: Mapping[str, FieldDefinition] = field(default_factory=dict)

    def check(
        self,
        *,
        category: str | None = None,
        labels: Iterable[str] = (),
        custom_fields: Mapping[str, CustomFieldValue | None] | None = None,
    ) -> dict[str, CustomFieldValue | None]:
        """Check what a caller sent; returns the custom field values in their stored form."""
        problems: dict[str, object] = {}
        if category is not None and self.categories.outsiders([category]):
            problems["category"] = {"value": category, "allowed": list(self.categories.values)}
        unknown_labels = self.labels.outsiders(labels)
        if unknown_labels:
            problems["tags"] = {"not_allowed": unknown_labels, "allowed": list(self.labels.values)}
        clean: dict[str, CustomFieldValue | None] = {}
        field_problems: dict[str, str] = {}
        for key, value in (custom_fields or {}).items():
            definition = self.fields.get(key)
            if definition is None:
                field_problems[key] = "no such custom field"
            elif value is None:
                clean[key] = None
            else:
                try:
                    clean[key] = normalised(definition, value)
                except ValueError as error:
                    field_problems[key] = str(error)
        if field_problems:
            problems["custom_fields"] = field_problems
        if problems:
            raise DomainError("some values are not allowed here", problems)
        return clean

    def checked_request(self, request: NewTicket) -> NewTicket:
        values = self.check(
            category=request.category, labels=request.tags, custom_fields=request.custom_fields
        )
        return replace(
            request, custom_fields={key: value for key, value in values.items() if value is not None}
        )

    def checked_patch(self, ticket: TicketSnapshot, patch: TicketPatch) -> TicketPatch:
        """Check what the patch changes: a label or category the ticket already has passes even
        if the list no longer holds it."""
        values = self.check(
            category=patch.category if patch.category != ticket.category else None,
            labels=set(patch.tags or ()) - set(ticket.tags),
            custom_fields=patch.custom_fields,
        )
        return patch if patch.custom_fields is None else replace(patch, custom_fields=values)

    def missing_to_resolve(self, values: Mapping[str, CustomFieldValue]) -> list[str]:
        return sorted(
            key
            for key, definition in self.fields.items()
            if definition.required_to_resolve and values.get(key) in (None, "", [])
        )

    def check_resolvable(self, before: TicketSnapshot, after: TicketSnapshot) -> None:
        """A change that resolves or closes a ticket needs every field required to resolve."""
        if after.status not in FINISHED or before.status in FINISHED:
            return
        missing = self.missing_to_resolve(after.custom_fields)
        if missing:
            raise DomainError(
                f"fill in {', '.join(missing)} before {after.ref} is {after.status.value.lower()}",
                {"missing_custom_fields": missing},
            )


def normalised(definition: FieldDefinition, value: CustomFieldValue) -> CustomFieldValue:
    """The value in its stored form, or ValueError saying what this field takes."""
    stored = _STORED_FORM[definition.type](definition, value)
    if stored is None:
        raise ValueError(_expected(definition))
    return stored


def _text(_: FieldDefinition, value: CustomFieldValue) -> CustomFieldValue | None:
    return value if isinstance(value, str) and len(value) <= MAX_TEXT else None


def _number(_: FieldDefinition, value: CustomFieldValue) -> CustomFieldValue | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _boolean(_: FieldDefinition, value: CustomFieldValue) -> CustomFieldValue | None:
    return value if isinstance(value, bool) else None


def _date(_: FieldDefinition, value: CustomFieldValue) -> CustomFieldValue | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        return None


def _choice(definition: FieldDefinition, value: CustomFieldValue) -> CustomFieldValue | None:
    return value if isinstance(value, str) and value in definition.options else None


def _choices(definition: FieldDefinition, value: CustomFieldValue) -> CustomFieldValue | None:
    if not isinstance(value, list) or not set(value) <= set(definition.options):
        return None
    return sorted(set(value), key=definition.options.index)


_STORED_FORM = {
    FieldType.TEXT: _text,
    FieldType.NUMBER: _number,
    FieldType.BOOLEAN: _boolean,
    FieldType.DATE: _date,
    FieldType.SELECT: _choice,
    FieldType.MULTI_SELECT: _choices,
}


def _expected(definition: FieldDefinition) -> str:
    options = ", ".join(definition.options)
    return {
        FieldType.TEXT: f"text of at most {MAX_TEXT} characters",
        FieldType.NUMBER: "a number",
        FieldType.BOOLEAN: "true or false",
        FieldType.DATE: "a date such as 2026-04-30",
        FieldType.SELECT: f"one of {options}",
        FieldType.MULTI_SELECT: f"a list of {options}",
    }[definition.type]
