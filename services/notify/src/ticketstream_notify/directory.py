"""Notify's copy of the staff directory (from tickets' `ticketstream.directory.v1`), and who in it
hears about escalations, breaches and unhappy customers. No IO here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ticketstream.contracts.models import TicketSnapshot

MANAGING_ROLES = ("manager", "admin")


@dataclass(frozen=True)
class StaffMember:
    id: str
    email: str
    name: str
    role: str
    teams: tuple[str, ...] = ()


@dataclass(frozen=True)
class Team:
    id: str
    name: str
    lead_ids: tuple[str, ...] = ()
    manager_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class StaffDirectory:
    """The part of the directory one event needs: the people named, the ticket's team and its
    members, and the desk's managers and admins."""

    members: Mapping[str, StaffMember] = field(default_factory=dict)
    teams: Mapping[str, Team] = field(default_factory=dict)

    def team(self, team_id: str | None) -> Team | None:
        return self.teams.get(team_id) if team_id else None

    def members_of(self, team_id: str | None) -> list[str]:
        if not team_id:
            return []
        return sorted(m.id for m in self.members.values() if team_id in m.teams)

    def with_role(self, *roles: str) -> list[str]:
        return sorted(m.id for m in self.members.values() if m.role in roles)


def unique(ids: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(i for i in ids if i))


def new_ticket_email_ids(ticket: TicketSnapshot, directory: StaffDirectory) -> list[str]:
    """Assignees, else the members of the ticket's team (the open queue gets no email)."""
    if ticket.assignee_ids:
        return unique(ticket.assignee_ids)
    return directory.members_of(ticket.assigned_team)


def new_assignee_ids(ticket: TicketSnapshot, previous: Iterable[str], actor: str | None) -> list[str]:
    """Who was just given the ticket; someone who took it themselves needs no telling."""
    before = set(previous)
    return [a for a in unique(ticket.assignee_ids) if a not in before and a != actor]


def escalation_ids(ticket: TicketSnapshot, level: int, directory: StaffDirectory) -> list[str]:
    """Level 1 reaches the team's leads; level 2 (and above) its managers and the desk's admins."""
    team = directory.team(ticket.assigned_team)
    if level <= 1:
        return unique(team.lead_ids if team else ())
    return unique([*(team.manager_ids if team else ()), *directory.with_role("admin")])


def breach_ids(ticket: TicketSnapshot, directory: StaffDirectory) -> list[str]:
    return unique([*ticket.assignee_ids, *directory.with_role(*MANAGING_ROLES)])


def detractor_ids(ticket: TicketSnapshot, directory: StaffDirectory) -> list[str]:
    """A CSAT of 1 or 2 goes to the team's leads and managers."""
    team = directory.team(ticket.assigned_team)
    return unique([*(team.lead_ids if team else ()), *(team.manager_ids if team else ())])


DETRACTOR_MAX_SCORE = 2
