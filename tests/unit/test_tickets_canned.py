"""Canned-response templates as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ticketstream.contracts.models import Person, Source
from ticketstream_tickets import canned, domain

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


def ticket(name: str | None = "Kim") -> object:
    request = domain.NewTicket(
        title="Reset link",
        description="",
        source=Source.API,
        requester=Person(email="kim@example.com", name=name),
    )
    return domain.open_ticket(request, ticket_id="t-1", number=42, customer_id="c-1", now=NOW).model_copy(
        update={"assigned_team": "support"}
    )


def test_render_fills_every_known_placeholder_with_spacing_variants() -> None:
    context = canned.context_for(
        ticket(), agent_name="Alice", agent_email=None, support_address="help@x.example"
    )
    text = canned.render(
        "{{customer_name}}|{{ customer_email }}|{{ticket_id}}|{{ticket_ref}}|{{ticket_title}}|"
        "{{ticket_status}}|{{ticket_priority}}|{{agent_name}}|{{agent_email}}|{{team}}|{{support_address}}",
        context,
    )
    assert text == (
        "Kim|kim@example.com|TKT-0042|TKT-0042|Reset link|"
        "open|medium|Alice|help@x.example|support|help@x.example"
    )


def test_missing_names_fall_back_to_friendly_words() -> None:
    context = canned.context_for(
        ticket(name=None), agent_name=None, agent_email=None, support_address="s@x.example"
    )
    assert canned.render("Hi {{customer_name}}, {{agent_name}}", context) == "Hi there, the support team"


@pytest.mark.parametrize(
    "template", ["{{customer_nmae}}", "{{ Ticket_ID }}", "{{}}", "{{customer_name}} {{x.y}}"]
)
def test_unknown_placeholders_are_refused_with_the_list(template: str) -> None:
    with pytest.raises(domain.DomainError) as error:
        canned.validate(template)
    assert error.value.details["unknown"]  # type: ignore[index]
    assert "customer_name" in error.value.details["known"]  # type: ignore[index]


def test_text_without_placeholders_and_single_braces_passes_unchanged() -> None:
    assert canned.render("Use {curly} braces freely", {}) == "Use {curly} braces freely"
