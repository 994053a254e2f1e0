"""Custom field types, managed lists and the resolve check (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ticketstream.contracts.models import Person, Priority, Source, TicketStatus
from ticketstream_tickets import domain, lifecycle
from ticketstream_tickets.domain import DomainError
from ticketstream_tickets.vocabulary import FieldDefinition, FieldType, ManagedList, Vocabulary, normalised

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
T = FieldType


@pytest.mark.parametrize(
    ("field_type", "options", "value", "stored"),
    [
        (T.TEXT, (), "hello", "hello"),
        (T.NUMBER, (), 3, 3),
        (T.NUMBER, (), 2.5, 2.5),
        (T.BOOLEAN, (), False, False),
        (T.DATE, (), "2026-02-28", "2026-02-28"),
        (T.SELECT, ("a", "b"), "b", "b"),
        (T.MULTI_SELECT, ("a", "b", "c"), ["c", "a", "c"], ["a", "c"]),
    ],
)
def test_values_of_the_right_type_are_stored(field_type, options, value, stored) -> None:
    assert normalised(FieldDefinition("f", "F", field_type, options), value) == stored


@pytest.mark.parametrize(
    ("field_type", "options", "value"),
    [
        (T.TEXT, (), 5),
        (T.TEXT, (), "x" * 2_001),
        (T.NUMBER, (), True),
        (T.NUMBER, (), "3"),
        (T.BOOLEAN, (), "yes"),
        (T.DATE, (), "2026-02-30"),
        (T.DATE, (), 20260228),
        (T.SELECT, ("a", "b"), "c"),
        (T.MULTI_SELECT, ("a", "b"), "a"),
        (T.MULTI_SELECT, ("a", "b"), ["a", "z"]),
    ],
)
def test_values_of_the_wrong_type_are_refused_with_what_the_field_takes(field_type, options, value) -> None:
    with pytest.raises(ValueError):
        normalised(FieldDefinition("f", "F", field_type, options), value)


@pytest.mark.parametrize(
    ("key", "field_type", "options"),
    [("Plan", T.TEXT, ()), ("9lives", T.TEXT, ()), ("plan", T.SELECT, ()), ("plan", T.TEXT, ("a",))],
)
def test_definitions_are_checked(key: str, field_type: FieldType, options: tuple[str, ...]) -> None:
    with pytest.raises(DomainError):
        FieldDefinition(key, "Label", field_type, options)


def test_restricted_lists_refuse_outsiders_and_advisory_lists_do_not() -> None:
    assert ManagedList(("a", "b"), restricted=True).outsiders(["a", "z"]) == ["z"]
    assert ManagedList(("a", "b"), restricted=False).outsiders(["a", "z"]) == []


def ticket(**update: object):
    request = domain.NewTicket(
        title="t",
        description="",
        source=Source.API,
        requester=Person(email="k@x.test"),
        priority=Priority.LOW,
    )
    return domain.open_ticket(request, ticket_id="t1", number=1, customer_id=None, now=NOW).model_copy(
        update=update
    )


VOCABULARY = Vocabulary(
    categories=ManagedList(("Billing",), restricted=True),
    labels=ManagedList(("vip",), restricted=True),
    fields={"plan": FieldDefinition("plan", "Plan", T.SELECT, ("free", "pro"), required_to_resolve=True)},
)


def test_a_patch_is_checked_only_for_what_it_changes() -> None:
    legacy = ticket(category="Legacy", tags=["old-label"])
    patch = lifecycle.TicketPatch(category="Legacy", tags=("old-label", "vip"))

    assert VOCABULARY.checked_patch(legacy, patch) == patch
    with pytest.raises(DomainError) as refused:
        VOCABULARY.checked_patch(legacy, lifecycle.TicketPatch(tags=("old-label", "new")))
    assert refused.value.details == {"tags": {"not_allowed": ["new"], "allowed": ["vip"]}}


def test_resolving_needs_the_required_fields_and_other_changes_do_not() -> None:
    before = ticket(status=TicketStatus.IN_PROGRESS)
    with pytest.raises(DomainError) as refused:
        VOCABULARY.check_resolvable(before, before.model_copy(update={"status": TicketStatus.RESOLVED}))
    assert refused.value.details == {"missing_custom_fields": ["plan"]}
    VOCABULARY.check_resolvable(before, before.model_copy(update={"status": TicketStatus.PENDING}))
    resolved = before.model_copy(update={"status": TicketStatus.RESOLVED, "custom_fields": {"plan": "free"}})
    VOCABULARY.check_resolvable(before, resolved)


def test_custom_field_patches_merge_and_null_clears() -> None:
    assert lifecycle.merged_custom_fields({"a": 1, "b": "x"}, {"a": None, "c": True}) == {"b": "x", "c": True}


def test_closing_without_resolving_needs_the_required_fields_too() -> None:
    before = ticket(status=TicketStatus.OPEN)

    with pytest.raises(DomainError) as refused:
        VOCABULARY.check_resolvable(before, before.model_copy(update={"status": TicketStatus.CLOSED}))
    assert str(refused.value) == "fill in plan before TKT-0001 is closed"
    resolved = before.model_copy(update={"status": TicketStatus.RESOLVED})
    VOCABULARY.check_resolvable(resolved, resolved.model_copy(update={"status": TicketStatus.CLOSED}))
