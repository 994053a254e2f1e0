"""What each event could cause, before the matrix and preferences decide: in-app notifications
and email drafts, with the recipients looked up in notify's directory copy."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from ticketstream.contracts.events import (
    SlaBreached,
    SlaWaitingReminderDue,
    SlaWarning,
    TicketAssigned,
    TicketCreated,
    TicketCsatRecorded,
    TicketEscalated,
    TicketEvent,
    TicketInteractionAdded,
    TicketStatusChanged,
)
from ticketstream.contracts.models import InteractionType, TicketSnapshot, TicketStatus
from ticketstream_notify import directory, domain, sla_notices, staff_notices, status_mail
from ticketstream_notify.domain import EmailDraft, InAppNotification
from ticketstream_notify.notifier import Notifier
from ticketstream_notify.sla_notices import Thread


@dataclass
class Plan:
    notifications: list[InAppNotification] = field(default_factory=list)
    drafts: list[EmailDraft | None] = field(default_factory=list)


@dataclass(frozen=True)
class PlanContext:
    notifier: Notifier
    support_address: str
    event_id: str
    follow_url: Callable[[TicketSnapshot], str]
    now: datetime

    def staff_emails(
        self,
        kind: str,
        ticket: TicketSnapshot,
        ids: list[str],
        people: directory.StaffDirectory,
        **variables: str,
    ) -> list[EmailDraft | None]:
        return list(
            staff_notices.staff_emails(
                kind,
                ticket,
                ids,
                people,
                event_id=self.event_id,
                support_address=self.support_address,
                variables=variables,
            )
        )


async def for_ticket_event(event: TicketEvent, thread: Thread, context: PlanContext) -> Plan:
    ticket = event.ticket
    notifier = context.notifier
    if isinstance(event, TicketCreated):
        people = await notifier.directory_slice(team_id=ticket.assigned_team, member_ids=ticket.assignee_ids)
        requester = ticket.requester.email if ticket.requester else "an agent"
        ack = domain.acknowledgement_email(
            ticket,
            support_address=context.support_address,
            follow_url=context.follow_url(ticket),
            first_interaction=event.first_interaction,
        )
        staff = context.staff_emails(
            "ticket.created",
            ticket,
            directory.new_ticket_email_ids(ticket, people),
            people,
            requester=requester,
            source=ticket.source.value.lower(),
        )
        return Plan(domain.new_ticket_notifications(ticket), [ack, *staff])
    if isinstance(event, TicketAssigned):
        assignees = directory.new_assignee_ids(ticket, event.previous_assignee_ids, event.actor)
        people = await notifier.directory_slice(team_id=None, member_ids=assignees)
        actor = event.actor or "routing"
        return Plan(
            staff_notices.assignment_notifications(event, assignees),
            context.staff_emails("ticket.assigned", ticket, assignees, people, actor=actor),
        )
    if isinstance(event, TicketInteractionAdded):
        return await _interaction_plan(event, context)
    if isinstance(event, TicketStatusChanged):
        csat_url = csat_expires = None
        if event.to_status is TicketStatus.RESOLVED:
            csat_url, csat_expires = notifier.csat_link(ticket_id=ticket.id, ref=ticket.ref, now=context.now)
        mail = status_mail.status_email(
            event,
            thread,
            support_address=context.support_address,
            follow_url=context.follow_url(ticket),
            csat_url=csat_url,
            csat_expires=csat_expires,
        )
        return Plan(drafts=[mail])
    if isinstance(event, TicketEscalated):
        people = await notifier.directory_slice(
            team_id=ticket.assigned_team, member_ids=[], roles=("admin",) if event.to_level >= 2 else ()
        )
        ids = directory.escalation_ids(ticket, event.to_level, people)
        variables = {"level": str(event.to_level), "reason": event.reason, "actor": event.actor or "the desk"}
        return Plan(
            staff_notices.escalation_notifications(event, ids),
            context.staff_emails("ticket.escalated", ticket, ids, people, **variables),
        )
    if isinstance(event, TicketCsatRecorded) and event.csat.score <= directory.DETRACTOR_MAX_SCORE:
        people = await notifier.directory_slice(team_id=ticket.assigned_team, member_ids=[])
        ids = directory.detractor_ids(ticket, people)
        variables = {"score": str(event.csat.score), "comment": event.csat.comment or ""}
        return Plan(
            staff_notices.detractor_notifications(event, ids),
            context.staff_emails("csat.detractor", ticket, ids, people, **variables),
        )
    return Plan()


async def _interaction_plan(event: TicketInteractionAdded, context: PlanContext) -> Plan:
    ticket, interaction = event.ticket, event.interaction
    notifications = domain.interaction_notifications(ticket, interaction)
    reply = domain.public_reply_email(
        ticket, interaction, support_address=context.support_address, follow_url=context.follow_url(ticket)
    )
    staff: list[EmailDraft | None] = []
    replied = [n for n in notifications if n.kind == "ticket.customer_replied"]
    if replied and ticket.assignee_ids:
        people = await context.notifier.directory_slice(team_id=None, member_ids=ticket.assignee_ids)
        author = interaction.author.email if interaction.author else "the customer"
        staff = context.staff_emails(
            "ticket.customer_replied", ticket, ticket.assignee_ids, people, author=author
        )
    if interaction.type is InteractionType.INTERNAL_NOTE:
        mentioned = [n.recipient.removeprefix("user:") for n in notifications if n.kind == "ticket.mentioned"]
        people = await context.notifier.directory_slice(team_id=None, member_ids=mentioned)
        # The note's text stays out of the email: it is read on the ticket, behind a login.
        author = interaction.author_id or "a colleague"
        staff = context.staff_emails("ticket.mentioned", ticket, mentioned, people, author=author)
    return Plan(notifications, [reply, *staff])


async def for_sla_event(
    event: SlaWarning | SlaBreached | SlaWaitingReminderDue,
    ticket: TicketSnapshot,
    thread: Thread,
    context: PlanContext,
) -> Plan:
    if isinstance(event, SlaWaitingReminderDue):
        checkin = sla_notices.checkin_email(
            ticket,
            event,
            thread,
            support_address=context.support_address,
            follow_url=context.follow_url(ticket),
        )
        return Plan(drafts=[checkin])
    variables = {"target": event.target.value.replace("_", " "), "due_at": sla_notices.when(event.due_at)}
    if isinstance(event, SlaWarning):
        people = await context.notifier.directory_slice(team_id=None, member_ids=ticket.assignee_ids)
        return Plan(
            sla_notices.warning_notifications(ticket, event),
            context.staff_emails("sla.warning", ticket, list(ticket.assignee_ids), people, **variables),
        )
    people = await context.notifier.directory_slice(
        team_id=None, member_ids=ticket.assignee_ids, roles=directory.MANAGING_ROLES
    )
    return Plan(
        sla_notices.breach_notifications(ticket, event),
        context.staff_emails(
            "sla.breached", ticket, directory.breach_ids(ticket, people), people, **variables
        ),
    )
