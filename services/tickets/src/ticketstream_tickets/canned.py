"""Pure canned-response templates: `{{placeholder}}` substitution with a fixed vocabulary.

An unknown placeholder is an error when the template is saved and when it is used, so a
customer never receives a reply with a raw `{{typo}}` in it. No IO here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ticketstream.contracts.models import TicketSnapshot
from ticketstream_tickets.domain import DomainError

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_.-]*)\s*\}\}")
PLACEHOLDERS = {
    "customer_name": "the requester's name (or 'there' when unknown)",
    "customer_email": "the requester's email address",
    "ticket_id": "the ticket ref, e.g. TKT-0042",
    "ticket_ref": "the ticket ref, e.g. TKT-0042",
    "ticket_title": "the ticket title",
    "ticket_status": "the ticket status",
    "ticket_priority": "the ticket priority",
    "agent_name": "the replying agent's name",
    "agent_email": "the replying agent's email address",
    "team": "the ticket's team",
    "support_address": "the support mailbox",
}


def unknown_placeholders(template: str) -> list[str]:
    return sorted({name for name in PLACEHOLDER.findall(template) if name not in PLACEHOLDERS})


def validate(template: str) -> None:
    unknown = unknown_placeholders(template)
    if unknown:
        raise DomainError(
            f"unknown placeholder(s): {', '.join('{{' + name + '}}' for name in unknown)}",
            {"unknown": unknown, "known": sorted(PLACEHOLDERS)},
        )


def context_for(
    ticket: TicketSnapshot, *, agent_name: str | None, agent_email: str | None, support_address: str
) -> dict[str, str]:
    requester = ticket.requester
    return {
        "customer_name": (requester.name if requester and requester.name else "there"),
        "customer_email": requester.email if requester else "",
        "ticket_id": ticket.ref,
        "ticket_ref": ticket.ref,
        "ticket_title": ticket.title,
        "ticket_status": ticket.status.value.replace("_", " ").lower(),
        "ticket_priority": ticket.priority.value.lower(),
        "agent_name": agent_name or "the support team",
        "agent_email": agent_email or support_address,
        "team": ticket.assigned_team or "",
        "support_address": support_address,
    }


def render(template: str, context: Mapping[str, str]) -> str:
    validate(template)
    return PLACEHOLDER.sub(lambda match: context[match.group(1)], template)
