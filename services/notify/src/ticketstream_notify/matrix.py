"""The notification matrix: which events reach whom, over which channel. No IO here.

Each row (`kind`) is one thing worth telling somebody about. A row names its audience (the
customer or staff) and, per channel, a mode: `on` (sent unless the recipient opts out), `opt_in`
(sent only to staff who asked for it) or `off` (never). Admins change rows; staff choose per row
within what the row allows. The row's key is also the key of its email template and the `kind`
of the notifications and mails it produces.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum


class Channel(StrEnum):
    IN_APP = "in_app"
    EMAIL = "email"


class ChannelMode(StrEnum):
    ON = "on"
    OPT_IN = "opt_in"
    OFF = "off"


class Audience(StrEnum):
    CUSTOMER = "customer"
    STAFF = "staff"


@dataclass(frozen=True)
class Rule:
    """One row of the matrix as it is in force."""

    kind: str
    audience: Audience
    description: str
    enabled: bool = True
    in_app: ChannelMode = ChannelMode.OFF
    email: ChannelMode = ChannelMode.OFF

    def mode(self, channel: Channel) -> ChannelMode:
        if not self.enabled:
            return ChannelMode.OFF
        return self.in_app if channel is Channel.IN_APP else self.email


ON, OPT_IN, OFF = ChannelMode.ON, ChannelMode.OPT_IN, ChannelMode.OFF
CUSTOMER, STAFF = Audience.CUSTOMER, Audience.STAFF

# Status emails: the customer-facing statuses a ticket can move to, one row (and template) each.
STATUS_KINDS: tuple[str, ...] = (
    "status.in_progress",
    "status.waiting_on_customer",
    "status.resolved",
    "status.closed",
    "status.reopened",
)

DEFAULT_RULES: tuple[Rule, ...] = (
    Rule("acknowledgement", CUSTOMER, "New ticket: the customer's acknowledgement", email=ON),
    Rule("reply", CUSTOMER, "An agent's public reply, emailed in the thread", email=ON),
    Rule("status.in_progress", CUSTOMER, "Work on the ticket started", email=OFF),
    Rule("status.waiting_on_customer", CUSTOMER, "The desk waits for the customer's answer", email=ON),
    Rule("status.resolved", CUSTOMER, "Resolved: the resolution email with the CSAT survey link", email=ON),
    Rule("status.closed", CUSTOMER, "The ticket was closed", email=ON),
    Rule("status.reopened", CUSTOMER, "A resolved or closed ticket was reopened", email=ON),
    Rule("waiting.checkin", CUSTOMER, "Check-in when a waiting ticket's reminder is due", email=ON),
    Rule("ticket.created", STAFF, "New ticket: its assignees, else its team", in_app=ON, email=ON),
    Rule("ticket.assigned", STAFF, "Assigned or reassigned: the new assignees", in_app=ON, email=ON),
    Rule("ticket.customer_replied", STAFF, "The customer wrote: the assignees", in_app=ON, email=OPT_IN),
    Rule("ticket.escalated", STAFF, "Escalated: team leads (level 1), managers and admins (level 2)",
         in_app=ON, email=ON),
    Rule("ticket.mentioned", STAFF, "@mentioned in an internal note", in_app=ON, email=OPT_IN),
    Rule("sla.warning", STAFF, "An SLA target is close: the assignees", in_app=ON, email=OPT_IN),
    Rule("sla.breached", STAFF, "An SLA target was missed: assignees, managers and admins",
         in_app=ON, email=OPT_IN),
    Rule("csat.detractor", STAFF, "A CSAT score of 1 or 2: the team's leads and managers",
         in_app=ON, email=ON),
)  # fmt: skip

DEFAULTS: Mapping[str, Rule] = {rule.kind: rule for rule in DEFAULT_RULES}


class UnknownKindError(KeyError):
    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind

    def __str__(self) -> str:
        return f"no notification kind {self.kind!r}; known: {', '.join(DEFAULTS)}"


class RuleChangeError(ValueError):
    """An admin's change a row cannot take (e.g. an in-app channel for customer mail)."""


@dataclass(frozen=True)
class RuleChange:
    """What an admin sets on a row; None leaves the field as it is."""

    enabled: bool | None = None
    in_app: ChannelMode | None = None
    email: ChannelMode | None = None


def apply_change(rule: Rule, change: RuleChange) -> Rule:
    if rule.audience is CUSTOMER:
        if change.in_app not in (None, OFF):
            raise RuleChangeError(f"{rule.kind} goes to customers, who have no in-app inbox")
        if change.email is OPT_IN:
            raise RuleChangeError(f"{rule.kind} goes to customers, who cannot opt in: use on or off")
    updated = replace(
        rule,
        enabled=rule.enabled if change.enabled is None else change.enabled,
        in_app=rule.in_app if change.in_app is None else change.in_app,
        email=rule.email if change.email is None else change.email,
    )
    return updated


def rule_in_force(kind: str, stored: RuleChange | None) -> Rule:
    """The default row with the admins' stored change on top."""
    try:
        default = DEFAULTS[kind]
    except KeyError as error:
        raise UnknownKindError(kind) from error
    return apply_change(default, stored) if stored is not None else default


@dataclass(frozen=True)
class ChannelChoice:
    """A staff member's choice for one row; None follows the row's mode."""

    in_app: bool | None = None
    email: bool | None = None

    def get(self, channel: Channel) -> bool | None:
        return self.in_app if channel is Channel.IN_APP else self.email


Preferences = Mapping[str, ChannelChoice]


def wants(rule: Rule, channel: Channel, preferences: Preferences | None = None) -> bool:
    """Whether a recipient gets `rule` over `channel`: `off` never, `on` unless they said no,
    `opt_in` only when they said yes. Customers have no preferences: their rows are on or off."""
    mode = rule.mode(channel)
    if mode is OFF:
        return False
    choice = (preferences or {}).get(rule.kind, ChannelChoice()).get(channel)
    if choice is None:
        return mode is ON
    return choice


def validate_preferences(choices: Mapping[str, ChannelChoice]) -> None:
    """Staff choose only for staff rows."""
    for kind in choices:
        rule = DEFAULTS.get(kind)
        if rule is None:
            raise UnknownKindError(kind)
        if rule.audience is not STAFF:
            raise RuleChangeError(f"{kind} is customer mail: staff preferences do not apply to it")
