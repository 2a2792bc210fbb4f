"""Verbs on projects, members, endpoints and API tokens. Each is atomic and audited.

Also how an endpoint is reached (`endpoint_config`) and its "test connection" check.
"""

from __future__ import annotations

import asyncio
import dataclasses
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from curation.projects import audit
from curation.projects.models import ApiToken, Membership, ModelEndpoint, Project, Role
from generation import llm
from generation.capabilities import CAPABILITIES, Capabilities, probe_capabilities
from generation.llm import EndpointConfig, LLMClient, LLMError


class ServiceError(ValueError):
    """A request that cannot be carried out; the message is meant for the user."""


def _unique_slug(name: str) -> str:
    base = slugify(name)[:60] or "project"
    slug, n = base, 1
    while Project.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@transaction.atomic
def create_project(actor: Any, name: str, description: str = "") -> Project:
    name = name.strip()
    if not name:
        raise ServiceError("A project needs a name.")
    project = Project.objects.create(
        name=name, slug=_unique_slug(name), description=description, created_by=actor
    )
    Membership.objects.create(project=project, user=actor, role=Role.OWNER)
    audit.record(actor, "project.create", project, project=project, after={"name": name})
    return project


@transaction.atomic
def set_member(actor: Any, project: Project, username: str, role: str) -> Membership:
    """Add a member, or change the role of one who is already in."""
    if role not in Role.values:
        raise ServiceError(f"Unknown role {role!r}; choose one of {', '.join(Role.values)}.")
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise ServiceError(f"No user named {username!r}.")
    membership = Membership.objects.select_for_update().filter(project=project, user=user).first()
    before = {"role": membership.role} if membership else None
    if membership is None:
        membership = Membership.objects.create(project=project, user=user, role=role)
    else:
        if membership.role == Role.OWNER and role != Role.OWNER:
            _ensure_another_owner(project, membership)
        membership.role = role
        membership.save(update_fields=["role"])
    audit.record(
        actor,
        "member.set",
        membership,
        project=project,
        before=before,
        after={"user": username, "role": role},
    )
    return membership


def _ensure_another_owner(project: Project, leaving: Membership) -> None:
    owners = Membership.objects.filter(project=project, role=Role.OWNER).exclude(pk=leaving.pk)
    if not owners.exists():
        raise ServiceError("A project must keep at least one owner.")


@transaction.atomic
def remove_member(actor: Any, project: Project, membership_id: int) -> None:
    membership = (
        Membership.objects.select_for_update()
        .select_related("user")
        .filter(project=project, pk=membership_id)
        .first()
    )
    if membership is None:
        raise ServiceError("No such member.")
    if membership.role == Role.OWNER:
        _ensure_another_owner(project, membership)
    audit.record(
        actor,
        "member.remove",
        membership,
        project=project,
        before={"user": membership.user.username, "role": membership.role},
    )
    membership.delete()


@transaction.atomic
def issue_api_token(user: Any, name: str) -> tuple[ApiToken, str]:
    """Returns the token row and the plain token, which is never stored or shown again."""
    name = name.strip() or "token"
    plain = ApiToken.generate()
    token = ApiToken.objects.create(
        user=user, name=name[:100], token_hash=ApiToken.hash(plain), hint=plain[:8] + "…"
    )
    audit.record(user, "token.issue", token, after={"name": token.name, "hint": token.hint})
    return token, plain


@transaction.atomic
def revoke_api_token(user: Any, token_id: int) -> None:
    token = ApiToken.objects.filter(user=user, pk=token_id, revoked_at__isnull=True).first()
    if token is None:
        raise ServiceError("No such active token.")
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    audit.record(user, "token.revoke", token, before={"name": token.name})


def user_for_token(plain: str) -> Any | None:
    token = (
        ApiToken.objects.select_related("user")
        .filter(token_hash=ApiToken.hash(plain), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    # Touch at most once a minute: a busy client should not write on every request.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


ENDPOINT_FIELDS = (
    "base_url",
    "chat_model",
    "judge_model",
    "embedding_model",
    "max_concurrency",
    "rpm",
    "tpm",
    "price_in_per_1k",
    "price_out_per_1k",
    "timeout_s",
    "api_key_env",
)


@transaction.atomic
def save_endpoint(
    actor: Any,
    project: Project,
    *,
    name: str,
    api_key: str | None = None,
    is_default: bool | None = None,
    **fields: Any,
) -> ModelEndpoint:
    """Create the named endpoint or update it. A key of None keeps the stored one."""
    unknown = set(fields) - set(ENDPOINT_FIELDS)
    if unknown:
        raise ServiceError(f"Unknown endpoint fields: {', '.join(sorted(unknown))}.")
    endpoint = ModelEndpoint.objects.select_for_update().filter(project=project, name=name).first()
    before = _endpoint_state(endpoint) if endpoint else None
    if endpoint is None:
        endpoint = ModelEndpoint(project=project, name=name)
    for key, value in fields.items():
        if key.startswith("price") and value is not None:
            value = Decimal(str(value))
        setattr(endpoint, key, value)
    if api_key is not None:
        endpoint.set_api_key(api_key)
    if is_default:
        ModelEndpoint.objects.filter(project=project, is_default=True).exclude(
            pk=endpoint.pk
        ).update(is_default=False)
        endpoint.is_default = True
    elif is_default is False:
        endpoint.is_default = False
    try:
        endpoint.full_clean(exclude=["project"], validate_constraints=False)
    except ValidationError as exc:
        raise ServiceError(
            "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
        ) from exc
    endpoint.save()
    audit.record(
        actor,
        "endpoint.save",
        endpoint,
        project=project,
        before=before,
        after=_endpoint_state(endpoint),
    )
    return endpoint


def _endpoint_state(endpoint: ModelEndpoint) -> dict[str, Any]:
    # The key itself never enters the audit log; its hint does.
    state = {f: str(getattr(endpoint, f)) for f in ENDPOINT_FIELDS}
    state["key"] = endpoint.key_display
    return state


def endpoint_config(endpoint: ModelEndpoint) -> EndpointConfig:
    """How generation.llm reaches this endpoint: its URL, key, model, limits and prices."""
    return EndpointConfig(
        base_url=endpoint.base_url,
        api_key=endpoint.get_api_key(),
        model=endpoint.chat_model,
        max_concurrency=endpoint.max_concurrency,
        rpm=endpoint.rpm,
        tpm=endpoint.tpm,
        timeout_s=endpoint.timeout_s,
        max_retries=int(getattr(settings, "SEEDBED_LLM_MAX_RETRIES", 5)),
        price_in_per_1k=endpoint.price_in_per_1k,
        price_out_per_1k=endpoint.price_out_per_1k,
        endpoint_id=endpoint.pk,
    )


PROBE_TIMEOUT_S = 20.0  # the whole capability probe; each request is tiny


def test_endpoint(endpoint: ModelEndpoint, actor: Any = None) -> dict[str, Any]:
    """List the models, make one tiny chat call and probe what the endpoint can do.

    Reports what happened and never raises. What the probe learned is stored on the
    endpoint (`capabilities`, audited), so that runs are refused a need it lacks; an
    unreachable endpoint teaches nothing and keeps what it had.
    """
    probe = llm_probe(endpoint)
    if not probe["ok"]:
        return {
            "ok": False,
            "error": probe.get("error", "unreachable"),
            "latency_ms": probe.get("latency_ms", 0),
            "capabilities": endpoint.capabilities or {},
        }
    config = endpoint_config(endpoint)
    quick = dataclasses.replace(config, max_retries=1, timeout_s=min(config.timeout_s, 30.0))

    async def ping() -> tuple[dict[str, Any], Capabilities]:
        async with LLMClient(quick) as client:
            caps = asyncio.ensure_future(
                probe_capabilities(
                    client,
                    embedding_model=endpoint.embedding_model or None,
                    timeout_s=PROBE_TIMEOUT_S,
                )
            )
            try:
                done = await client.complete(
                    [{"role": "user", "content": "Reply with the single word: ready"}],
                    purpose="test",
                    max_tokens=5,
                    temperature=0.0,
                )
            except LLMError as exc:
                reply = {"ok": False, "error": str(exc)[:500]}
            else:
                reply = {"ok": True, "reply": done.texts[0][:200], "latency_ms": done.latency_ms}
            return reply, await caps

    result, caps = asyncio.run(ping())
    stored = record_capabilities(actor, endpoint, caps)
    return {"models": probe.get("models", []), **result, "capabilities": stored}


@transaction.atomic
def record_capabilities(actor: Any, endpoint: ModelEndpoint, caps: Capabilities) -> dict[str, Any]:
    """Store what a probe found; the audit log keeps the flags before and after.

    A probe that could not tell (a timeout, a 429) keeps what an earlier one found.
    """
    locked = ModelEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    before = {k: v for k, v in (locked.capabilities or {}).items() if k in CAPABILITIES}
    found = caps.as_dict()
    for name, known in before.items():
        if found[name] is None and isinstance(known, bool):
            found[name] = known
    locked.capabilities = found
    locked.save(update_fields=["capabilities"])
    endpoint.capabilities = locked.capabilities
    audit.record(
        actor,
        "endpoint.capabilities",
        locked,
        project=locked.project_id,
        before=before or None,
        after={k: locked.capabilities[k] for k in CAPABILITIES},
    )
    return dict(locked.capabilities)


def llm_probe(endpoint: ModelEndpoint) -> dict[str, Any]:
    return llm.probe(endpoint.base_url, endpoint.get_api_key(), timeout=10.0)
