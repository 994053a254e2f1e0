"""Email templates: the defaults shipped in code, validation of admins' versions, rendering.

Templates are Jinja2 in a sandboxed environment: a template can use the variables of its kind
and the sandbox's safe filters, nothing else (no attribute walking into Python objects, no
imports). Unknown variables are refused when a template is saved and fail loudly when rendered
(StrictUndefined). The HTML part is autoescaped and placed inside a branded layout owned by
code, so an admin's template cannot break out of it. No IO here.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, meta, nodes, pass_eval_context
from jinja2.exceptions import SecurityError
from jinja2.filters import FILTERS as DEFAULT_FILTERS
from jinja2.nodes import EvalContext
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from ticketstream_notify.domain import EmailDraft, OutgoingEmail
from ticketstream_notify.matrix import DEFAULTS, Audience, UnknownKindError


@dataclass(frozen=True)
class TemplateSource:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


class TemplateInvalidError(ValueError):
    """A template that does not compile, uses unknown variables or fails on sample data."""


COMMON = ("brand", "ref", "title", "status", "priority", "support_address")
CUSTOMER_COMMON = (*COMMON, "customer_name", "follow_url")
STAFF_COMMON = (*COMMON, "recipient_name", "ticket_url", "team")

EXTRA_VARIABLES: Mapping[str, tuple[str, ...]] = {
    "acknowledgement": (),
    "reply": ("subject", "reply_text", "agent_name"),
    "status.in_progress": ("previous_status",),
    "status.waiting_on_customer": ("previous_status",),
    "status.resolved": ("previous_status", "csat_url", "csat_expires"),
    "status.closed": ("previous_status",),
    "status.reopened": ("previous_status",),
    "waiting.checkin": ("close_at",),
    "ticket.created": ("requester", "source"),
    "ticket.assigned": ("actor",),
    "ticket.customer_replied": ("author",),
    "ticket.escalated": ("level", "reason", "actor"),
    "ticket.mentioned": ("author",),
    "sla.warning": ("target", "due_at"),
    "sla.breached": ("target", "due_at"),
    "csat.detractor": ("score", "comment"),
}


def variables_of(kind: str) -> tuple[str, ...]:
    """The variables a template of `kind` may use."""
    rule = DEFAULTS.get(kind)
    if rule is None:
        raise UnknownKindError(kind)
    common = CUSTOMER_COMMON if rule.audience is Audience.CUSTOMER else STAFF_COMMON
    return (*common, *EXTRA_VARIABLES[kind])


SAMPLE_VALUES: Mapping[str, str] = {
    "brand": "Example Support",
    "ref": "TKT-0042",
    "title": "Cannot sign in after the update",
    "status": "RESOLVED",
    "previous_status": "IN_PROGRESS",
    "priority": "High",
    "support_address": "support@example.com",
    "customer_name": "Kim",
    "follow_url": "https://help.example.com/v1/portal/magic/sample-token",
    "recipient_name": "Alice",
    "ticket_url": "https://help.example.com/v1/tickets/TKT-0042",
    "team": "support",
    "subject": "[TKT-0042] Cannot sign in after the update",
    "reply_text": "Thanks for waiting. Please sign in again now; it should work.",
    "agent_name": "Alice",
    "csat_url": "https://help.example.com/v1/csat/sample-token",
    "csat_expires": "2026-01-15",
    "close_at": "2026-01-03 09:00 UTC",
    "requester": "kim@example.com",
    "source": "email",
    "actor": "bob",
    "author": "kim@example.com",
    "level": "1",
    "reason": "VIP customer waiting",
    "target": "first response",
    "due_at": "2026-01-02 14:00 UTC",
    "score": "2",
    "comment": "It took too long.",
}


def sample_context(kind: str) -> dict[str, str]:
    return {name: SAMPLE_VALUES[name] for name in variables_of(kind)}


def _t(subject: str, text: str, html: str) -> TemplateSource:
    return TemplateSource(subject=subject, text=text, html=html)


_SIGN_OFF = "\n— {{ brand }}\n"
_REPLY_HINT = "To add anything, reply to this email and keep {{ ref }} in the subject."

DEFAULT_TEMPLATES: Mapping[str, TemplateSource] = {
    "acknowledgement": _t(
        "[{{ ref }}] We received your request: {{ title }}",
        "Hello {{ customer_name }},\n\n"
        "Thank you for contacting us. Your request has been received and logged as {{ ref }}:\n"
        "  {{ title }}\n\n"
        "A member of our support team will reply as soon as possible. To add anything, just reply\n"
        "to this email and keep {{ ref }} in the subject.\n\n"
        "Follow your request and answer it: {{ follow_url }}\n" + _SIGN_OFF,
        "<p>Hello {{ customer_name }},</p>"
        "<p>Thank you for contacting us. Your request has been logged as <strong>{{ ref }}</strong>: "
        "{{ title }}.</p><p>A member of our support team will reply as soon as possible. "
        + _REPLY_HINT
        + '</p><p><a href="{{ follow_url }}">Follow your request</a></p>',
    ),
    "reply": _t(
        "{{ subject }}",
        "{{ reply_text }}",
        '<div style="white-space: pre-wrap">{{ reply_text }}</div>',
    ),
    "status.in_progress": _t(
        "[{{ ref }}] We are working on your request: {{ title }}",
        "Hello {{ customer_name }},\n\nWe have started working on your request {{ ref }}:\n"
        "  {{ title }}\n\nWe will be in touch. " + _REPLY_HINT + "\n" + _SIGN_OFF,
        "<p>Hello {{ customer_name }},</p><p>We have started working on your request "
        "<strong>{{ ref }}</strong>: {{ title }}.</p><p>" + _REPLY_HINT + "</p>",
    ),
    "status.waiting_on_customer": _t(
        "[{{ ref }}] We need a little more from you: {{ title }}",
        "Hello {{ customer_name }},\n\nTo move on with {{ ref }} ({{ title }}) we are waiting for your\n"
        "answer. Please reply to this email with the details we asked for.\n\n"
        "Your request: {{ follow_url }}\n" + _SIGN_OFF,
        "<p>Hello {{ customer_name }},</p><p>To move on with <strong>{{ ref }}</strong> ({{ title }}) "
        "we are waiting for your answer. Please reply to this email with the details we asked for.</p>"
        '<p><a href="{{ follow_url }}">Your request</a></p>',
    ),
    "status.resolved": _t(
        "[{{ ref }}] Your request is resolved: {{ title }}",
        "Hello {{ customer_name }},\n\nWe have marked your request {{ ref }} as resolved:\n"
        "  {{ title }}\n\nIf something is still not right, reply to this email and we will pick it\n"
        "up again.\n\nHow did we do? Rate our help (one click, until {{ csat_expires }}):\n"
        "{{ csat_url }}\n" + _SIGN_OFF,
        "<p>Hello {{ customer_name }},</p><p>We have marked your request <strong>{{ ref }}</strong> "
        "({{ title }}) as resolved. If something is still not right, reply to this email and we will "
        'pick it up again.</p><p>How did we do? <a href="{{ csat_url }}">Rate our help</a> '
        "(until {{ csat_expires }}).</p>",
    ),
    "status.closed": _t(
        "[{{ ref }}] Your request is closed: {{ title }}",
        "Hello {{ customer_name }},\n\nYour request {{ ref }} is now closed:\n  {{ title }}\n\n"
        "If you need more help, reply to this email and we will open a follow-up.\n" + _SIGN_OFF,
        "<p>Hello {{ customer_name }},</p><p>Your request <strong>{{ ref }}</strong> ({{ title }}) is "
        "now closed. If you need more help, reply to this email and we will open a follow-up.</p>",
    ),
    "status.reopened": _t(
        "[{{ ref }}] Your request is open again: {{ title }}",
        "Hello {{ customer_name }},\n\nYour request {{ ref }} is open again and back with our team:\n"
        "  {{ title }}\n\n" + _REPLY_HINT + "\n" + _SIGN_OFF,
        "<p>Hello {{ customer_name }},</p><p>Your request <strong>{{ ref }}</strong> ({{ title }}) is "
        "open again and back with our team.</p><p>" + _REPLY_HINT + "</p>",
    ),
    "waiting.checkin": _t(
        "[{{ ref }}] Do you still need help? {{ title }}",
        "Hello {{ customer_name }},\n\nWe are still holding your request {{ ref }} open for you:\n"
        "  {{ title }}\n\n"
        "We last asked you for some information and have not heard back. Is this still a problem?\n"
        "Just reply to this email and we will pick it up again. If we do not hear from you, the\n"
        "request will be closed on {{ close_at }}; replying later opens a new one.\n" + _SIGN_OFF,
        "<p>Hello {{ customer_name }},</p><p>We are still holding your request <strong>{{ ref }}"
        "</strong> ({{ title }}) open for you, and have not heard back. Is this still a problem? "
        "Just reply to this email. If we do not hear from you, the request will be closed on "
        "{{ close_at }}.</p>",
    ),
    "ticket.created": _t(
        "[{{ ref }}] New ticket: {{ title }}",
        "New {{ priority }} priority ticket {{ ref }} from {{ requester }} via {{ source }}:\n"
        "  {{ title }}\n\nOpen it: {{ ticket_url }}\n",
        "<p>New {{ priority }} priority ticket <strong>{{ ref }}</strong> from {{ requester }} via "
        '{{ source }}: {{ title }}</p><p><a href="{{ ticket_url }}">Open the ticket</a></p>',
    ),
    "ticket.assigned": _t(
        "[{{ ref }}] Assigned to you: {{ title }}",
        "Hello {{ recipient_name }},\n\n{{ actor }} assigned {{ ref }} to you:\n  {{ title }}\n"
        "({{ priority }} priority, {{ status }})\n\nOpen it: {{ ticket_url }}\n",
        "<p>Hello {{ recipient_name }},</p><p>{{ actor }} assigned <strong>{{ ref }}</strong> to you: "
        '{{ title }} ({{ priority }} priority, {{ status }}).</p><p><a href="{{ ticket_url }}">'
        "Open the ticket</a></p>",
    ),
    "ticket.customer_replied": _t(
        "[{{ ref }}] New message from {{ author }}",
        "{{ author }} wrote on {{ ref }} ({{ title }}).\n\nOpen it: {{ ticket_url }}\n",
        "<p>{{ author }} wrote on <strong>{{ ref }}</strong> ({{ title }}).</p>"
        '<p><a href="{{ ticket_url }}">Open the ticket</a></p>',
    ),
    "ticket.escalated": _t(
        "[{{ ref }}] Escalated to level {{ level }}: {{ title }}",
        "Hello {{ recipient_name }},\n\n{{ ref }} ({{ title }}, team {{ team }}) was escalated to\n"
        "level {{ level }} by {{ actor }}: {{ reason }}\n\nOpen it: {{ ticket_url }}\n",
        "<p>Hello {{ recipient_name }},</p><p><strong>{{ ref }}</strong> ({{ title }}, team {{ team }}) "
        "was escalated to level {{ level }} by {{ actor }}: {{ reason }}</p>"
        '<p><a href="{{ ticket_url }}">Open the ticket</a></p>',
    ),
    "ticket.mentioned": _t(
        "[{{ ref }}] {{ author }} mentioned you",
        "Hello {{ recipient_name }},\n\n{{ author }} mentioned you in an internal note on {{ ref }}\n"
        "({{ title }}). Read it on the ticket: {{ ticket_url }}\n",
        "<p>Hello {{ recipient_name }},</p><p>{{ author }} mentioned you in an internal note on "
        '<strong>{{ ref }}</strong> ({{ title }}).</p><p><a href="{{ ticket_url }}">Read it on the '
        "ticket</a></p>",
    ),
    "sla.warning": _t(
        "[{{ ref }}] {{ target }} due {{ due_at }}",
        "{{ ref }} ({{ title }}, {{ priority }}): the {{ target }} target is due {{ due_at }}.\n\n"
        "Open it: {{ ticket_url }}\n",
        "<p><strong>{{ ref }}</strong> ({{ title }}, {{ priority }}): the {{ target }} target is due "
        '{{ due_at }}.</p><p><a href="{{ ticket_url }}">Open the ticket</a></p>',
    ),
    "sla.breached": _t(
        "[{{ ref }}] {{ target }} target missed",
        "{{ ref }} ({{ title }}, {{ priority }}) missed its {{ target }} target, due {{ due_at }}.\n\n"
        "Open it: {{ ticket_url }}\n",
        "<p><strong>{{ ref }}</strong> ({{ title }}, {{ priority }}) missed its {{ target }} target, "
        'due {{ due_at }}.</p><p><a href="{{ ticket_url }}">Open the ticket</a></p>',
    ),
    "csat.detractor": _t(
        "[{{ ref }}] Low satisfaction score: {{ score }} of 5",
        "Hello {{ recipient_name }},\n\nThe customer rated {{ ref }} ({{ title }}, team {{ team }})\n"
        "{{ score }} of 5.{% if comment %} Their comment:\n  {{ comment }}{% endif %}\n\n"
        "Open it: {{ ticket_url }}\n",
        "<p>Hello {{ recipient_name }},</p><p>The customer rated <strong>{{ ref }}</strong> "
        "({{ title }}, team {{ team }}) {{ score }} of 5.</p>{% if comment %}<blockquote>{{ comment }}"
        '</blockquote>{% endif %}<p><a href="{{ ticket_url }}">Open the ticket</a></p>',
    ),
}

_LAYOUT = (
    '<!DOCTYPE html><html><head><meta charset="utf-8"><title>{{ subject }}</title></head>'
    '<body style="margin:0;padding:0;background:#f4f5f7;font-family:Helvetica,Arial,sans-serif">'
    '<table role="presentation" width="100%" cellpadding="0" cellspacing="0"><tr><td align="center">'
    '<table role="presentation" width="600" cellpadding="0" cellspacing="0" style="background:#ffffff;'
    'margin:24px 0;border-radius:6px">'
    '<tr><td style="background:#1f4e79;color:#ffffff;padding:16px 24px;font-size:18px">{{ brand }}</td></tr>'
    '<tr><td style="padding:24px;color:#222222;font-size:15px;line-height:1.5">{{ body }}</td></tr>'
    '<tr><td style="padding:12px 24px;color:#777777;font-size:12px;border-top:1px solid #e5e5e5">'
    "{{ ref }} · {{ brand }}</td></tr></table></td></tr></table></body></html>"
)


# Resource limits of a rendered template: a saved template is rendered on every send, so a short
# one must not be able to build a huge string ("%0100000000d" % 1, "x"|center(10**8)).
MAX_RENDERED_CHARS = 256 * 1024  # per part (subject, text, html body)
MAX_FORMAT_WIDTH = 1000  # widths and precisions in format strings, center and indent
_PRINTF_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")
_NUMBER = re.compile(r"\d+")


def _check_width(width: object) -> None:
    if isinstance(width, int) and width > MAX_FORMAT_WIDTH:
        raise SecurityError(f"widths above {MAX_FORMAT_WIDTH} are not allowed in templates")


def _check_printf_format(format_text: str) -> None:
    """Refuse %-formatting with a width or precision above the cap, or taken from the arguments."""
    for match in _PRINTF_SPEC.finditer(format_text):
        for number in match.groups():
            if number == "*":
                raise SecurityError("* widths are not allowed in templates")
            if number is not None:
                _check_width(int(number))


def _check_brace_format(format_text: str) -> None:
    """The same for str.format: no width or precision above the cap, none from the arguments."""
    try:
        fields = list(string.Formatter().parse(format_text))
    except ValueError as error:
        raise SecurityError(f"invalid format string: {error}") from error
    for _, _, spec, _ in fields:
        if not spec:
            continue
        if "{" in spec:
            raise SecurityError("nested format fields are not allowed in templates")
        for number in _NUMBER.findall(spec):
            _check_width(int(number))


def _checked_length(length: int) -> None:
    if length > MAX_RENDERED_CHARS:
        raise SecurityError(f"a template may not produce more than {MAX_RENDERED_CHARS} characters")


def _center(value: str, width: int = 80) -> Any:
    _check_width(width)
    return DEFAULT_FILTERS["center"](value, width)


def _indent(value: str, width: int | str = 4, first: bool = False, blank: bool = False) -> Any:
    _check_width(width)
    prefix = width if isinstance(width, str) else " " * int(width)
    _checked_length(len(str(value)) + len(prefix) * (str(value).count("\n") + 1))
    return DEFAULT_FILTERS["indent"](value, width, first, blank)


def _format(value: str, *args: Any, **kwargs: Any) -> Any:
    _check_printf_format(str(value))
    return DEFAULT_FILTERS["format"](value, *args, **kwargs)


@pass_eval_context
def _replace(eval_ctx: EvalContext, value: str, old: str, new: str, count: int | None = None) -> Any:
    text = str(value)
    occurrences = text.count(str(old)) if count is None else min(count, text.count(str(old)))
    _checked_length(len(text) + occurrences * max(len(str(new)) - len(str(old)), 0))
    return DEFAULT_FILTERS["replace"](eval_ctx, value, old, new, count)


@pass_eval_context
def _join(eval_ctx: EvalContext, value: Any, d: str = "", attribute: Any = None) -> Any:
    items = list(value)
    _checked_length(len(items) * len(str(d)))
    joined = DEFAULT_FILTERS["join"](eval_ctx, items, d, attribute)
    _checked_length(len(joined))
    return joined


_LIMITED_FILTERS = {
    "center": _center,
    "indent": _indent,
    "format": _format,
    "replace": _replace,
    "join": _join,
}


class _Sandbox(ImmutableSandboxedEnvironment):
    """The sandbox, also refusing what can build huge values from a short template: repeating
    with `*`, `**`, wide %-formatting and str.format, wide center/indent, amplifying
    replace/join, and any output over MAX_RENDERED_CHARS."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            raise SecurityError("the ** operator is not allowed in templates")
        if operator == "%":
            if isinstance(left, str):
                _check_printf_format(left)
            return super().call_binop(context, operator, left, right)
        if isinstance(left, str | list | tuple) or isinstance(right, str | list | tuple):
            raise SecurityError("repeating text or lists with * is not allowed in templates")
        return super().call_binop(context, operator, left, right)

    def wrap_str_format(self, value: Any) -> Any:
        wrapped = super().wrap_str_format(value)
        if wrapped is not None:  # value is "...".format or .format_map: check its format string
            _check_brace_format(str(value.__self__))
        return wrapped


def _environment(*, html: bool) -> ImmutableSandboxedEnvironment:
    environment = _Sandbox(autoescape=html, undefined=StrictUndefined, keep_trailing_newline=True)
    environment.filters.update(_LIMITED_FILTERS)
    return environment


def _render_limited(template: Template, values: Mapping[str, Any]) -> str:
    """Render, stopping as soon as the output passes MAX_RENDERED_CHARS (a loop cannot fill memory)."""
    parts: list[str] = []
    length = 0
    for part in template.generate(values):
        length += len(part)
        _checked_length(length)
        parts.append(part)
    return "".join(parts)


class TemplateRenderer:
    """Compiles and renders templates; one per process (environments are reusable)."""

    def __init__(self) -> None:
        self._text = _environment(html=False)
        self._html = _environment(html=True)

    def validate(self, kind: str, source: TemplateSource) -> None:
        """Raises TemplateInvalidError with the reason when `source` cannot serve `kind`."""
        allowed = set(variables_of(kind))
        for part, environment in (("subject", self._text), ("text", self._text), ("html", self._html)):
            template_text = getattr(source, part)
            if not template_text.strip():
                raise TemplateInvalidError(f"{part}: must not be empty")
            try:
                parsed: nodes.Template = environment.parse(template_text)
            except TemplateError as error:
                line = getattr(error, "lineno", None)
                raise TemplateInvalidError(f"{part}: does not compile (line {line}): {error}") from error
            unknown = sorted(meta.find_undeclared_variables(parsed) - allowed)
            if unknown:
                raise TemplateInvalidError(
                    f"{part}: unknown variables {', '.join(unknown)}; "
                    f"{kind} can use {', '.join(sorted(allowed))}"
                )
        try:
            self.render(kind, source, sample_context(kind))
        except Exception as error:  # any failure (e.g. "a" + 1) makes it unusable
            raise TemplateInvalidError(f"fails on sample data: {error}") from error

    def render(self, kind: str, source: TemplateSource, context: Mapping[str, str]) -> RenderedEmail:
        """Raises jinja2's TemplateError (or the error of a failing expression) when the template
        cannot be rendered with `context`."""
        values = dict(context)
        subject = _render_limited(self._text.from_string(source.subject), values)
        # A header is one line: a template cannot add headers through the subject.
        subject = " ".join(subject.split())
        ref = values.get("ref")
        if ref and f"[{ref}]" not in subject:
            subject = f"[{ref}] {subject}"  # replies must thread back onto the ticket
        text = _render_limited(self._text.from_string(source.text), values)
        body = _render_limited(self._html.from_string(source.html), values)
        layout = self._html.from_string(_LAYOUT)
        html = layout.render(
            subject=subject,
            brand=values.get("brand", ""),
            ref=ref or "",
            body=Markup(body),  # escaped already, by the autoescaping environment
        )
        return RenderedEmail(subject=subject, text=text, html=html)


def render_default(draft: EmailDraft, *, brand: str, support_address: str) -> OutgoingEmail:
    """A draft in the default wording (what is sent while no admin changed the template)."""
    context = {"brand": brand, "support_address": support_address, "ticket_url": "", **draft.variables}
    rendered = TemplateRenderer().render(draft.kind, default_template(draft.kind), context)
    return draft.finish(subject=rendered.subject, text=rendered.text, html=rendered.html)


def default_template(kind: str) -> TemplateSource:
    try:
        return DEFAULT_TEMPLATES[kind]
    except KeyError as error:
        raise UnknownKindError(kind) from error
