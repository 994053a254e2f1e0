"""Turns what an event could cause into what it does cause: the matrix rows in force, staff
members' preferences, and the templates (admins' versions, else the defaults) rendered."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from ticketstream.csat_tokens import issue_csat_token
from ticketstream_notify.directory import StaffDirectory
from ticketstream_notify.domain import EmailDraft, InAppNotification, OutgoingEmail
from ticketstream_notify.matrix import Audience, Channel, ChannelMode, Preferences, Rule, rule_in_force, wants
from ticketstream_notify.settings import Settings
from ticketstream_notify.store_directory import DirectoryStore
from ticketstream_notify.store_matrix import MatrixStore
from ticketstream_notify.templates import TemplateRenderer, TemplateSource, default_template

log = logging.getLogger(__name__)

USER_PREFIX = "user:"


class Notifier:
    def __init__(
        self,
        settings: Settings,
        matrix: MatrixStore,
        directory: DirectoryStore,
        renderer: TemplateRenderer | None = None,
    ) -> None:
        self._settings = settings
        self._matrix = matrix
        self._directory = directory
        self._renderer = renderer or TemplateRenderer()

    async def directory_slice(
        self, *, team_id: str | None, member_ids: Iterable[str], roles: Iterable[str] = ()
    ) -> StaffDirectory:
        return await self._directory.slice(team_id=team_id, member_ids=member_ids, roles=roles)

    def csat_link(self, *, ticket_id: str, ref: str, now: datetime) -> tuple[str, str]:
        """The survey link of a resolution email and the day it stops working."""
        ttl = timedelta(days=self._settings.csat_survey_days)
        token = issue_csat_token(
            ticket_id=ticket_id, ref=ref, secret=self._settings.jwt_secret, now=now, ttl=ttl
        )
        url = f"{self._settings.ingest_public_url.rstrip('/')}/v1/csat/{token}"
        return url, (now + ttl).strftime("%Y-%m-%d")

    async def resolve(
        self, notifications: list[InAppNotification], drafts: Iterable[EmailDraft | None]
    ) -> tuple[list[InAppNotification], list[OutgoingEmail]]:
        """Keeps what the rules and preferences allow and renders the emails that remain."""
        planned = [draft for draft in drafts if draft is not None]
        kinds = {n.kind for n in notifications} | {d.kind for d in planned}
        if not kinds:
            return [], []
        changes = await self._matrix.rule_changes()
        rules = {kind: rule_in_force(kind, changes.get(kind)) for kind in kinds}
        people = [
            n.recipient.removeprefix(USER_PREFIX)
            for n in notifications
            if n.recipient.startswith(USER_PREFIX)
        ]
        people += [d.recipient_id for d in planned if d.recipient_id]
        preferences = await self._matrix.preferences_of(people)
        kept = [n for n in notifications if _keeps_notification(rules[n.kind], n, preferences)]
        to_send = [d for d in planned if _keeps_email(rules[d.kind], d, preferences)]
        overrides = await self._matrix.template_overrides(d.kind for d in to_send) if to_send else {}
        return kept, [self._render(d, overrides.get(d.kind)) for d in to_send]

    def _render(self, draft: EmailDraft, override: TemplateSource | None) -> OutgoingEmail:
        context = {
            **self.site_variables(draft.ref, staff=draft.audience == Audience.STAFF),
            **draft.variables,
        }
        if override is not None:
            try:
                rendered = self._renderer.render(draft.kind, override, context)
                return draft.finish(subject=rendered.subject, text=rendered.text, html=rendered.html)
            except Exception:  # saved templates were validated; a failure must not stop the email
                log.exception("template %s failed; sending the default wording", draft.kind)
        rendered = self._renderer.render(draft.kind, default_template(draft.kind), context)
        return draft.finish(subject=rendered.subject, text=rendered.text, html=rendered.html)

    def site_variables(self, ref: str, *, staff: bool) -> dict[str, str]:
        variables = {"brand": self._settings.brand_name, "support_address": self._settings.support_address}
        if staff:
            variables["ticket_url"] = f"{self._settings.public_url.rstrip('/')}/v1/tickets/{ref}"
        return variables


def _keeps_notification(
    rule: Rule, notification: InAppNotification, preferences: dict[str, Preferences]
) -> bool:
    if not notification.recipient.startswith(USER_PREFIX):
        # A team queue or the managers' address is read by many: only the row decides.
        return rule.mode(Channel.IN_APP) is ChannelMode.ON
    person = notification.recipient.removeprefix(USER_PREFIX)
    return wants(rule, Channel.IN_APP, preferences.get(person))


def _keeps_email(rule: Rule, draft: EmailDraft, preferences: dict[str, Preferences]) -> bool:
    if draft.audience != Audience.STAFF:
        return rule.mode(Channel.EMAIL) is ChannelMode.ON
    return wants(rule, Channel.EMAIL, preferences.get(draft.recipient_id or ""))
