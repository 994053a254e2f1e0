"""HTTP edge of the matrix: admins edit email templates and matrix rows; staff choose channels."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status

from ticketstream.auth import AdminPrincipal, StaffPrincipal
from ticketstream_notify.matrix import (
    DEFAULT_RULES,
    DEFAULTS,
    Audience,
    Channel,
    ChannelChoice,
    Rule,
    RuleChange,
    RuleChangeError,
    UnknownKindError,
    apply_change,
    rule_in_force,
    validate_preferences,
    wants,
)
from ticketstream_notify.models_admin import (
    ChannelChoiceBody,
    PreferenceList,
    PreferencesUpdate,
    PreferenceView,
    PreviewRequest,
    PreviewView,
    RuleList,
    RuleUpdates,
    RuleView,
    TemplateBody,
    TemplateList,
    TemplateView,
)
from ticketstream_notify.store_matrix import MatrixStore
from ticketstream_notify.templates import (
    DEFAULT_TEMPLATES,
    TemplateInvalidError,
    TemplateRenderer,
    TemplateSource,
    sample_context,
    variables_of,
)

router = APIRouter(prefix="/v1", tags=["notification settings"])


def get_matrix_store(request: Request) -> MatrixStore:
    store: MatrixStore = request.app.state.matrix_store
    return store


def get_renderer(request: Request) -> TemplateRenderer:
    renderer: TemplateRenderer = request.app.state.template_renderer
    return renderer


MatrixStoreDep = Annotated[MatrixStore, Depends(get_matrix_store)]
RendererDep = Annotated[TemplateRenderer, Depends(get_renderer)]


def _known_template(key: str) -> str:
    if key not in DEFAULT_TEMPLATES:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"no email template {key!r}; see GET /v1/admin/templates"
        )
    return key


TemplateKey = Annotated[str, Depends(_known_template)]


def _source(body: TemplateBody) -> TemplateSource:
    return TemplateSource(subject=body.subject, text=body.text, html=body.html)


async def _template_view(store: MatrixStore, key: str) -> TemplateView:
    override = (await store.template_overrides([key])).get(key)
    updates = await store.template_updates() if override else {}
    source = override or DEFAULT_TEMPLATES[key]
    by, at = updates.get(key, (None, None))
    return TemplateView(
        key=key,
        audience=DEFAULTS[key].audience,
        variables=list(variables_of(key)),
        customized=override is not None,
        subject=source.subject,
        text=source.text,
        html=source.html,
        updated_by=by,
        updated_at=at,
    )


@router.get("/admin/templates", summary="Every email template in force, with its variables (admins)")
async def list_templates(store: MatrixStoreDep, _: AdminPrincipal) -> TemplateList:
    overrides = await store.template_overrides()
    updates = await store.template_updates()
    items = []
    for key, default in DEFAULT_TEMPLATES.items():
        source = overrides.get(key, default)
        by, at = updates.get(key, (None, None))
        items.append(
            TemplateView(
                key=key,
                audience=DEFAULTS[key].audience,
                variables=list(variables_of(key)),
                customized=key in overrides,
                subject=source.subject,
                text=source.text,
                html=source.html,
                updated_by=by,
                updated_at=at,
            )
        )
    return TemplateList(items=items)


@router.get("/admin/templates/{key}", summary="One email template in force (admins)")
async def get_template(key: TemplateKey, store: MatrixStoreDep, _: AdminPrincipal) -> TemplateView:
    return await _template_view(store, key)


@router.put(
    "/admin/templates/{key}",
    summary="Replace an email template (admins); 422 when it does not compile or uses unknown variables",
)
async def put_template(
    key: TemplateKey, body: TemplateBody, store: MatrixStoreDep, renderer: RendererDep, admin: AdminPrincipal
) -> TemplateView:
    source = _source(body)
    try:
        renderer.validate(key, source)
    except TemplateInvalidError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"template {key}: {error}") from error
    await store.save_template(key, source, by=admin.sub, now=datetime.now(UTC))
    return await _template_view(store, key)


@router.delete(
    "/admin/templates/{key}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Drop the admins' version of a template: the default wording is in force again",
)
async def delete_template(key: TemplateKey, store: MatrixStoreDep, _: AdminPrincipal) -> Response:
    if not await store.delete_template(key):
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"template {key} has no admin version; the default is in force"
        )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/admin/templates/{key}/preview",
    summary="Render a template (the one in force, or a draft) with sample data (admins)",
)
async def preview_template(
    key: TemplateKey,
    store: MatrixStoreDep,
    renderer: RendererDep,
    _: AdminPrincipal,
    body: PreviewRequest | None = None,
) -> PreviewView:
    body = body or PreviewRequest()
    unknown = sorted(set(body.variables) - set(variables_of(key)))
    if unknown:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"{key} has no variables {', '.join(unknown)}"
        )
    if body.template is not None:
        source = _source(body.template)
        try:
            renderer.validate(key, source)
        except TemplateInvalidError as error:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"template {key}: {error}") from error
    else:
        source = (await store.template_overrides([key])).get(key) or DEFAULT_TEMPLATES[key]
    try:
        rendered = renderer.render(key, source, {**sample_context(key), **body.variables})
    except Exception as error:  # what the preview's values break is the caller's 422
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"template {key}: {error}") from error
    return PreviewView(key=key, subject=rendered.subject, text=rendered.text, html=rendered.html)


def _rule_view(rule: Rule) -> RuleView:
    return RuleView(
        kind=rule.kind,
        audience=rule.audience,
        description=rule.description,
        enabled=rule.enabled,
        in_app=rule.in_app,
        email=rule.email,
    )


async def _rules_in_force(store: MatrixStore) -> list[Rule]:
    changes = await store.rule_changes()
    return [rule_in_force(rule.kind, changes.get(rule.kind)) for rule in DEFAULT_RULES]


@router.get("/admin/notification-rules", summary="The notification matrix in force (admins)")
async def list_rules(store: MatrixStoreDep, _: AdminPrincipal) -> RuleList:
    return RuleList(items=[_rule_view(rule) for rule in await _rules_in_force(store)])


@router.put(
    "/admin/notification-rules",
    summary="Switch matrix rows or their channels on, off or to opt-in (admins); fields left out stay",
)
async def put_rules(body: RuleUpdates, store: MatrixStoreDep, admin: AdminPrincipal) -> RuleList:
    changes = await store.rule_changes()
    checked: list[tuple[str, RuleChange]] = []
    for item in body.items:
        change = RuleChange(enabled=item.enabled, in_app=item.in_app, email=item.email)
        try:
            apply_change(rule_in_force(item.kind, changes.get(item.kind)), change)
        except UnknownKindError as error:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from error
        except RuleChangeError as error:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from error
        checked.append((item.kind, change))
    now = datetime.now(UTC)
    for kind, change in checked:  # all rows are checked before any is stored
        await store.save_rule_change(kind, change, by=admin.sub, now=now)
    return RuleList(items=[_rule_view(rule) for rule in await _rules_in_force(store)])


async def _preferences(store: MatrixStore, user_id: str) -> PreferenceList:
    choices = await store.preferences(user_id)
    items = []
    for rule in await _rules_in_force(store):
        if rule.audience is not Audience.STAFF:
            continue
        choice = choices.get(rule.kind, ChannelChoice())
        items.append(
            PreferenceView(
                kind=rule.kind,
                description=rule.description,
                in_app=wants(rule, Channel.IN_APP, choices),
                email=wants(rule, Channel.EMAIL, choices),
                in_app_mode=rule.mode(Channel.IN_APP),
                email_mode=rule.mode(Channel.EMAIL),
                choice=ChannelChoiceBody(in_app=choice.in_app, email=choice.email),
            )
        )
    return PreferenceList(items=items)


@router.get(
    "/notifications/preferences",
    summary="The caller's channels per notification kind, and what is in force for them",
)
async def get_preferences(store: MatrixStoreDep, principal: StaffPrincipal) -> PreferenceList:
    return await _preferences(store, principal.sub)


@router.put(
    "/notifications/preferences",
    summary="Choose in-app and email per kind (null follows the default; channels an admin "
    "switched off stay off)",
)
async def put_preferences(
    body: PreferencesUpdate, store: MatrixStoreDep, principal: StaffPrincipal
) -> PreferenceList:
    choices = {kind: ChannelChoice(in_app=c.in_app, email=c.email) for kind, c in body.kinds.items()}
    try:
        validate_preferences(choices)
    except (UnknownKindError, RuleChangeError) as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from error
    await store.save_preferences(principal.sub, choices, now=datetime.now(UTC))
    return await _preferences(store, principal.sub)
