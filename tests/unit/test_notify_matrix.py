"""The notification matrix, the templates and who hears about status changes, escalations and
low CSAT scores (pure logic)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ticketstream.contracts.events import TicketStatusChanged
from ticketstream.contracts.models import Person, Priority, Source, TicketSnapshot, TicketStatus
from ticketstream_notify.directory import (
    StaffDirectory,
    StaffMember,
    Team,
    breach_ids,
    detractor_ids,
    escalation_ids,
    new_assignee_ids,
    new_ticket_email_ids,
)
from ticketstream_notify.domain import EmailDraft, InAppNotification, acknowledgement_email
from ticketstream_notify.matrix import (
    DEFAULT_RULES,
    DEFAULTS,
    Audience,
    Channel,
    ChannelChoice,
    ChannelMode,
    RuleChange,
    RuleChangeError,
    UnknownKindError,
    apply_change,
    rule_in_force,
    validate_preferences,
    wants,
)
from ticketstream_notify.notifier import Notifier
from ticketstream_notify.senders import build_message
from ticketstream_notify.settings import Settings as NotifySettings
from ticketstream_notify.sla_notices import Thread
from ticketstream_notify.staff_notices import staff_emails
from ticketstream_notify.status_mail import status_email, status_kind
from ticketstream_notify.templates import (
    DEFAULT_TEMPLATES,
    EXTRA_VARIABLES,
    TemplateInvalidError,
    TemplateRenderer,
    TemplateSource,
    render_default,
    sample_context,
)

T0 = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)
SUPPORT = "support@desk.example"


def ticket(**changes: object) -> TicketSnapshot:
    base = TicketSnapshot(
        id="t-9",
        ref="TKT-0009",
        title="Invoice shows the wrong VAT",
        status=TicketStatus.RESOLVED,
        priority=Priority.MEDIUM,
        source=Source.EMAIL,
        requester=Person(email="kim@example.com", name="Kim"),
        email_thread_id="<root9@example.com>",
        assigned_team="billing",
        assignee_ids=["dana"],
        version=5,
        created_at=T0,
        updated_at=T0,
    )
    return base.model_copy(update=changes)


def status_changed(
    from_status: TicketStatus, to_status: TicketStatus, **changes: object
) -> TicketStatusChanged:
    snapshot = ticket(status=to_status, **changes)
    return TicketStatusChanged(
        ticket_id=snapshot.id,
        ref=snapshot.ref,
        sequence=snapshot.version,
        occurred_at=T0,
        ticket=snapshot,
        from_status=from_status,
        to_status=to_status,
    )


DIRECTORY = StaffDirectory(
    members={
        "dana": StaffMember("dana", "dana@desk.example", "Dana", "agent", ("billing",)),
        "lee": StaffMember("lee", "lee@desk.example", "Lee", "team_lead", ("billing",)),
        "max": StaffMember("max", "max@desk.example", "Max", "manager", ("billing",)),
        "ada": StaffMember("ada", "ada@desk.example", "Ada", "admin", ()),
    },
    teams={"billing": Team("billing", "Billing", lead_ids=("lee",), manager_ids=("max",))},
)


# --- the matrix ---------------------------------------------------------------------------------


def test_every_row_has_a_default_template_and_its_variables() -> None:
    assert set(DEFAULT_TEMPLATES) == set(DEFAULTS) == set(EXTRA_VARIABLES)


def test_customer_rows_are_email_only_and_on_or_off() -> None:
    for rule in DEFAULT_RULES:
        if rule.audience is Audience.CUSTOMER:
            assert rule.in_app is ChannelMode.OFF, rule.kind
            assert rule.email in (ChannelMode.ON, ChannelMode.OFF), rule.kind


def test_on_is_sent_unless_the_person_opts_out_and_opt_in_only_when_they_ask() -> None:
    replied = DEFAULTS["ticket.customer_replied"]
    assert wants(replied, Channel.IN_APP) is True
    assert wants(replied, Channel.EMAIL) is False
    asked = {"ticket.customer_replied": ChannelChoice(email=True, in_app=False)}
    assert wants(replied, Channel.EMAIL, asked) is True
    assert wants(replied, Channel.IN_APP, asked) is False


def test_an_admin_switching_a_row_off_beats_a_preference() -> None:
    rule = rule_in_force("ticket.assigned", RuleChange(enabled=False))
    assert wants(rule, Channel.EMAIL, {"ticket.assigned": ChannelChoice(email=True)}) is False
    email_off = rule_in_force("ticket.assigned", RuleChange(email=ChannelMode.OFF))
    assert wants(email_off, Channel.EMAIL, {"ticket.assigned": ChannelChoice(email=True)}) is False
    assert wants(email_off, Channel.IN_APP) is True


def test_customer_rows_refuse_in_app_and_opt_in() -> None:
    with pytest.raises(RuleChangeError, match="no in-app inbox"):
        apply_change(DEFAULTS["status.resolved"], RuleChange(in_app=ChannelMode.ON))
    with pytest.raises(RuleChangeError, match="cannot opt in"):
        apply_change(DEFAULTS["status.resolved"], RuleChange(email=ChannelMode.OPT_IN))
    assert apply_change(DEFAULTS["status.resolved"], RuleChange(enabled=False)).enabled is False


def test_unknown_kinds_and_customer_rows_have_no_preferences() -> None:
    with pytest.raises(UnknownKindError, match=r"no notification kind 'ticket\.exploded'"):
        rule_in_force("ticket.exploded", None)
    with pytest.raises(RuleChangeError, match="customer mail"):
        validate_preferences({"reply": ChannelChoice(email=False)})
    validate_preferences({"sla.warning": ChannelChoice(email=True)})  # a staff row is fine


# --- templates ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(DEFAULT_TEMPLATES))
def test_every_default_template_validates_and_renders_sample_data(kind: str) -> None:
    renderer = TemplateRenderer()
    renderer.validate(kind, DEFAULT_TEMPLATES[kind])
    rendered = renderer.render(kind, DEFAULT_TEMPLATES[kind], sample_context(kind))
    assert rendered.subject.startswith("[TKT-0042] ")
    assert "Example Support" in rendered.html and "<html>" in rendered.html
    assert "{{" not in rendered.text + rendered.html


def test_a_template_with_an_unknown_variable_is_refused_with_the_allowed_ones() -> None:
    bad = TemplateSource(subject="{{ ref }}", text="Hi {{ password }}", html="<p>{{ ref }}</p>")
    with pytest.raises(TemplateInvalidError, match=r"text: unknown variables password; .*can use .*ref"):
        TemplateRenderer().validate("acknowledgement", bad)


def test_a_template_that_does_not_compile_is_refused_with_its_line() -> None:
    bad = TemplateSource(subject="{{ ref }}", text="fine", html="<p>\n{% for %}</p>")
    with pytest.raises(TemplateInvalidError, match=r"html: does not compile \(line 2\)"):
        TemplateRenderer().validate("acknowledgement", bad)


def test_the_sandbox_refuses_reaching_into_python_objects() -> None:
    escape = TemplateSource(subject="{{ ref }}", text="{{ ref.__class__.__mro__ }}", html="<p>x</p>")
    with pytest.raises(TemplateInvalidError, match="unsafe"):
        TemplateRenderer().validate("acknowledgement", escape)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{{ ref * 1000000000 }}", "repeating text"),
        ("{{ 10 ** 100000 }}", "the \\*\\* operator"),
        ("{{ ref + 1 }}", "fails on sample data"),
        ('{{ "%0100000000d" % 1 }}', "widths above 1000"),
        ('{{ "%*d" % (100000000, 1) }}', "\\* widths"),
        ('{{ "%0100000000d"|format(1) }}', "widths above 1000"),
        ('{{ "x"|center(100000000) }}', "widths above 1000"),
        ('{{ "x"|indent(100000000) }}', "widths above 1000"),
        ('{{ "{:>100000000}".format(1) }}', "widths above 1000"),
        ('{{ "{:.100000000f}".format(1.5) }}', "widths above 1000"),
        ('{{ "{:>{}}".format(1, 100000000) }}', "nested format fields"),
        (
            '{{ "x"|replace("x", "'
            + "y" * 300
            + '")|replace("y", "'
            + "z" * 300
            + '")|replace("z", "'
            + "w" * 300
            + '") }}',
            "more than 262144 characters",
        ),
        ('{{ range(100000)|join("' + "y" * 100 + '") }}', "more than 262144 characters"),
        (
            "{% for i in range(100000) %}{% for j in range(100) %}xxxxxxxxxx{% endfor %}{% endfor %}",
            "more than 262144",
        ),
    ],
)
def test_templates_that_would_blow_up_or_fail_when_sent_are_refused(text: str, reason: str) -> None:
    source = TemplateSource(subject="{{ ref }}", text=text, html="<p>x</p>")
    with pytest.raises(TemplateInvalidError, match=reason):
        TemplateRenderer().validate("acknowledgement", source)


def test_modest_formatting_and_filters_still_work_and_html_stays_escaped() -> None:
    source = TemplateSource(
        subject="{{ ref }}",
        text='{{ "%05d" % 7 }}|{{ "{:>6}".format("ab") }}|{{ "ab"|center(6) }}|{{ ["a", "b"]|join(", ") }}',
        html='<p>{{ title|replace("update", "<b>update</b>") }}</p>',
    )
    renderer = TemplateRenderer()
    renderer.validate("acknowledgement", source)
    rendered = renderer.render("acknowledgement", source, sample_context("acknowledgement"))
    assert rendered.text == "00007|    ab|  ab  |a, b"
    assert "the &lt;b&gt;update&lt;/b&gt;</p>" in rendered.html


async def test_a_stored_template_over_the_output_limit_falls_back_to_the_default_wording() -> None:
    huge = TemplateSource("{{ ref }}", "{% for i in range(100000) %}{{ title }}{% endfor %}", "<p>x</p>")
    store = FakeMatrixStore(templates={"acknowledgement": huge})
    ack = acknowledgement_email(ticket(), support_address=SUPPORT, follow_url="https://f")
    _, [mail] = await notifier(store).resolve([], [ack])
    assert mail.subject == "[TKT-0009] We received your request: Invoice shows the wrong VAT"
    assert len(mail.text) < 10_000


async def test_a_stored_template_that_fails_falls_back_to_the_default_wording() -> None:
    broken = TemplateSource("{{ ref }}", "{{ title + 1 }}", "<p>x</p>")
    store = FakeMatrixStore(templates={"acknowledgement": broken})
    ack = acknowledgement_email(ticket(), support_address=SUPPORT, follow_url="https://f")
    _, [mail] = await notifier(store).resolve([], [ack])
    assert mail.subject == "[TKT-0009] We received your request: Invoice shows the wrong VAT"


def test_html_is_escaped_and_subjects_stay_one_line_with_the_ref() -> None:
    source = TemplateSource(
        subject="Hello\r\nBcc: x@evil.example", text="{{ title }}", html="<p>{{ title }}</p>"
    )
    context = {**sample_context("acknowledgement"), "title": "<script>alert(1)</script>"}
    rendered = TemplateRenderer().render("acknowledgement", source, context)
    assert rendered.subject == "[TKT-0042] Hello Bcc: x@evil.example"
    assert "<script>" not in rendered.html and "&lt;script&gt;" in rendered.html
    assert rendered.text == "<script>alert(1)</script>"


# --- status emails ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after", "kind"),
    [
        (TicketStatus.OPEN, TicketStatus.IN_PROGRESS, "status.in_progress"),
        (TicketStatus.IN_PROGRESS, TicketStatus.WAITING_ON_CUSTOMER, "status.waiting_on_customer"),
        (TicketStatus.IN_PROGRESS, TicketStatus.RESOLVED, "status.resolved"),
        (TicketStatus.WAITING_ON_CUSTOMER, TicketStatus.CLOSED, "status.closed"),
        (TicketStatus.RESOLVED, TicketStatus.OPEN, "status.reopened"),
        (TicketStatus.CLOSED, TicketStatus.IN_PROGRESS, "status.reopened"),
        (TicketStatus.RESOLVED, TicketStatus.CLOSED, None),
        (TicketStatus.IN_PROGRESS, TicketStatus.PENDING, None),
        (TicketStatus.PENDING, TicketStatus.OPEN, None),
    ],
)
def test_status_rows(before: TicketStatus, after: TicketStatus, kind: str | None) -> None:
    assert status_kind(before, after) == kind


def test_the_resolution_email_threads_and_carries_the_survey_link() -> None:
    event = status_changed(TicketStatus.IN_PROGRESS, TicketStatus.RESOLVED)
    thread = Thread(root="<root9@example.com>", latest="<reply.4@desk.example>")
    draft = status_email(
        event,
        thread,
        support_address=SUPPORT,
        follow_url="https://x/magic",
        csat_url="https://in.example/v1/csat/tok",
        csat_expires="2026-04-15",
    )
    assert draft is not None
    mail = render_default(draft, brand="Desk", support_address=SUPPORT)
    assert mail.kind == "status.resolved"
    assert mail.message_id == "<resolved.5.t-9@desk.example>"
    assert mail.in_reply_to == "<reply.4@desk.example>"
    assert mail.references == ("<root9@example.com>", "<reply.4@desk.example>")
    assert mail.reply_to == "support+TKT-0009@desk.example"
    assert mail.subject == "[TKT-0009] Your request is resolved: Invoice shows the wrong VAT"
    assert (
        "https://in.example/v1/csat/tok" in mail.text and 'href="https://in.example/v1/csat/tok"' in mail.html
    )
    message = build_message(mail, sender=SUPPORT)
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]


def test_no_status_email_for_merged_tickets_without_a_requester_or_of_the_customer_s_own_doing() -> None:
    thread = Thread(root=None, latest=None)
    merged = status_changed(TicketStatus.OPEN, TicketStatus.CLOSED, merged_into="t-1")
    orphan = status_changed(TicketStatus.OPEN, TicketStatus.CLOSED, requester=None)
    reopened_by_writing = status_changed(TicketStatus.RESOLVED, TicketStatus.OPEN).model_copy(
        update={"actor": "Kim@example.com"}
    )
    for event in (merged, orphan, reopened_by_writing):
        assert status_email(event, thread, support_address=SUPPORT, follow_url="") is None


# --- staff: the directory -----------------------------------------------------------------------


def test_escalation_level_one_reaches_leads_and_level_two_managers_and_admins() -> None:
    assert escalation_ids(ticket(), 1, DIRECTORY) == ["lee"]
    assert escalation_ids(ticket(), 2, DIRECTORY) == ["max", "ada"]
    assert escalation_ids(ticket(assigned_team=None), 1, DIRECTORY) == []


def test_detractors_reach_leads_and_managers_and_breaches_managers_and_admins() -> None:
    assert detractor_ids(ticket(), DIRECTORY) == ["lee", "max"]
    assert breach_ids(ticket(), DIRECTORY) == ["dana", "ada", "max"]


def test_new_tickets_mail_assignees_else_the_team_and_assignment_skips_the_actor() -> None:
    assert new_ticket_email_ids(ticket(), DIRECTORY) == ["dana"]
    assert new_ticket_email_ids(ticket(assignee_ids=[]), DIRECTORY) == ["dana", "lee", "max"]
    assert new_assignee_ids(ticket(assignee_ids=["dana", "lee"]), ["dana"], actor="x") == ["lee"]
    assert new_assignee_ids(ticket(assignee_ids=["lee"]), [], actor="lee") == []


def test_staff_emails_go_to_known_addresses_only_and_stay_out_of_the_customer_thread() -> None:
    drafts = staff_emails(
        "ticket.escalated",
        ticket(),
        ["lee", "ghost"],
        DIRECTORY,
        event_id="ev1",
        support_address=SUPPORT,
        variables={"level": "1", "reason": "VIP", "actor": "dana"},
    )
    [draft] = drafts
    assert draft.to == "lee@desk.example" and draft.audience == "staff" and draft.recipient_id == "lee"
    assert draft.in_reply_to is None and draft.references == ()
    assert draft.message_id == "<staff.ticket.escalated.ev1.lee@desk.example>"
    mail = render_default(draft, brand="Desk", support_address=SUPPORT)
    assert "escalated to\nlevel 1 by dana: VIP" in mail.text


# --- the notifier: rows, preferences and templates together (small fakes for its stores) -------


class FakeMatrixStore:
    def __init__(
        self,
        changes: dict[str, RuleChange] | None = None,
        preferences: dict[str, dict[str, ChannelChoice]] | None = None,
        templates: dict[str, TemplateSource] | None = None,
    ) -> None:
        self.changes = changes or {}
        self.preferences = preferences or {}
        self.templates = templates or {}

    async def rule_changes(self) -> dict[str, RuleChange]:
        return self.changes

    async def preferences_of(self, user_ids: Any) -> dict[str, dict[str, ChannelChoice]]:
        return {user: self.preferences[user] for user in user_ids if user in self.preferences}

    async def template_overrides(self, kinds: Any = None) -> dict[str, TemplateSource]:
        return {kind: self.templates[kind] for kind in kinds if kind in self.templates}


def notifier(store: FakeMatrixStore) -> Notifier:
    settings = NotifySettings(support_address=SUPPORT, brand_name="Desk", public_url="https://desk.example")
    return Notifier(settings, store, directory=None)  # type: ignore[arg-type]


def noted(recipient: str, kind: str = "ticket.customer_replied") -> InAppNotification:
    return InAppNotification(
        recipient=recipient, kind=kind, title="t", body="b", ref="TKT-0009", ticket_id="t-9"
    )


def escalation_drafts() -> list[EmailDraft]:
    return staff_emails(
        "ticket.escalated",
        ticket(),
        ["lee", "max"],
        DIRECTORY,
        event_id="ev2",
        support_address=SUPPORT,
        variables={"level": "2", "reason": "VIP", "actor": "dana"},
    )


async def test_the_notifier_applies_preferences_to_people_and_rows_to_queues() -> None:
    store = FakeMatrixStore(preferences={"dana": {"ticket.customer_replied": ChannelChoice(in_app=False)}})
    kept, _ = await notifier(store).resolve(
        [noted("user:dana"), noted("user:erin"), noted("team:billing")], []
    )
    assert [n.recipient for n in kept] == ["user:erin", "team:billing"]


async def test_the_notifier_drops_what_an_admin_switched_off_and_renders_the_admins_wording() -> None:
    store = FakeMatrixStore(
        changes={"acknowledgement": RuleChange(enabled=False)},
        preferences={"max": {"ticket.escalated": ChannelChoice(email=False)}},
        templates={
            "ticket.escalated": TemplateSource(
                "Level {{ level }}", "{{ recipient_name }}: {{ reason }}", "<b>x</b>"
            )
        },
    )
    ack = acknowledgement_email(ticket(), support_address=SUPPORT, follow_url="https://f")
    _, mails = await notifier(store).resolve([], [ack, *escalation_drafts()])
    [mail] = mails
    assert (mail.to, mail.subject, mail.text) == ("lee@desk.example", "[TKT-0009] Level 2", "Lee: VIP")
    assert mail.audience == "staff" and "Desk" in mail.html
