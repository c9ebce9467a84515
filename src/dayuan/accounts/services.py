"""Sign-in with lockout, API tokens, users and role grants."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dayuan.audit.log import audited, record
from dayuan.core import policy
from dayuan.core.errors import DomainError, InvalidInput, NotFound
from dayuan.core.scope import forget_grants, scoped
from dayuan.orgs.models import Organization

from .choices import Role
from .models import ApiToken, Grant, LoginThrottle, User


class LoginFailed(DomainError):
    status = 401
    code = "login_failed"
    # One message for unknown user, wrong password and locked account: none is revealed.
    default_message = _("用户名或密码错误，或账号已被临时锁定。")


def _normalise(username: str) -> str:
    return (username or "").strip().lower()[:150]


def sign_in(request: Any, username: str, password: str) -> User:
    """Check credentials with the lockout: 5 failures lock the name for 15 minutes."""
    name = _normalise(username)
    now = timezone.now()
    throttle = LoginThrottle.objects.filter(username=name).first()
    if throttle and throttle.locked_until and throttle.locked_until > now:
        _audit_login(name, None, "locked")
        raise LoginFailed()
    user = authenticate(request, username=username.strip(), password=password)
    if user is None or not user.is_active:
        _register_failure(name, now)
        raise LoginFailed()
    LoginThrottle.objects.filter(username=name).delete()
    _audit_login(name, user, "")
    return user


def _register_failure(name: str, now: datetime) -> None:
    window = timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES)
    with transaction.atomic():
        throttle, _created = LoginThrottle.objects.select_for_update().get_or_create(username=name)
        if throttle.first_failure_at is None or throttle.first_failure_at < now - window:
            throttle.failures = 0
            throttle.first_failure_at = now
        throttle.failures += 1
        if throttle.failures >= settings.LOGIN_LOCKOUT_FAILURES:
            throttle.locked_until = now + window
            throttle.failures = 0
            throttle.first_failure_at = None
        throttle.save()
    _audit_login(name, None, "bad_credentials")


def _audit_login(name: str, user: User | None, reason: str) -> None:
    record(
        "accounts.login",
        actor=user,
        object_type="accounts.user",
        object_id=user.pk if user else None,
        org=user.home_org if user else None,
        outcome="success" if user else "refused",
        reason=reason or "",
        changes={"username": name},
    )


def _hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue_token(*, actor: User, name: str = "api") -> tuple[str, ApiToken]:
    """A new bearer token; the raw value is returned once and never stored."""
    raw = "dy_" + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=actor,
        key_hash=_hash_token(raw),
        prefix=raw[:8],
        name=name[:60],
        expires_at=timezone.now() + timedelta(days=settings.API_TOKEN_DAYS),
    )
    record(
        "accounts.token.issue",
        actor=actor,
        obj=token,
        org=actor.home_org,
        changes={"prefix": token.prefix},
    )
    return raw, token


def user_for_token(raw: str) -> User | None:
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=_hash_token(raw), revoked_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=5):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


@audited("accounts.token.revoke")
def revoke_token(*, actor: User, token_id: int) -> ApiToken:
    token = ApiToken.objects.select_for_update().filter(pk=token_id, user=actor).first()
    if token is None:
        raise NotFound()
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        record("accounts.token.revoke", actor=actor, obj=token, org=actor.home_org)
    return token


@audited("accounts.user.create")
def create_user(
    *,
    actor: Any,
    username: str,
    password: str,
    display_name: str,
    home_org_id: int,
    phone: str = "",
    email: str = "",
) -> User:
    org = Organization.objects.filter(pk=home_org_id).first()
    if org is None or not policy.can(actor, "orgs.view", org):
        raise NotFound()
    policy.require(actor, "users.manage", org)
    username = username.strip()
    if not username or User.objects.filter(username__iexact=username).exists():
        raise InvalidInput(_("用户名已存在或为空。"), code="duplicate_username", field="username")
    user = User(
        username=username, display_name=display_name, home_org=org, phone=phone, email=email
    )
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise InvalidInput(
            _("密码不符合要求。"),
            code="weak_password",
            field="password",
            reasons=list(exc.messages),
        ) from exc
    user.set_password(password)
    user.save()
    record(
        "accounts.user.create",
        actor=actor,
        obj=user,
        org=org,
        changes={"username": [None, username]},
    )
    return user


@audited("accounts.grant.create")
def grant_role(*, actor: Any, user_id: int, org_id: int, role: str) -> Grant:
    if role not in Role.values:
        raise InvalidInput(_("角色无效。"), code="invalid_role", field="role")
    org = Organization.objects.filter(pk=org_id).first()
    if org is None or not policy.can(actor, "orgs.view", org):
        raise NotFound()
    policy.require(actor, "users.manage", org)
    # The grantee must be a user the actor manages: no reaching into another county.
    user = (
        scoped(actor, User.objects.all(), roles=policy.ACTIONS["users.manage"])
        .filter(pk=user_id)
        .first()
    )
    if user is None:
        raise NotFound()
    grant, created = Grant.objects.get_or_create(user=user, org=org, role=role)
    if created:
        record(
            "accounts.grant.create",
            actor=actor,
            obj=grant,
            org=org,
            changes={"user": user.username, "role": role},
        )
    forget_grants(user)
    return grant


@audited("accounts.grant.delete")
def revoke_role(*, actor: Any, grant_id: int) -> None:
    grant = (
        Grant.objects.select_for_update().select_related("org", "user").filter(pk=grant_id).first()
    )
    if grant is None or not policy.can(actor, "orgs.view", grant.org):
        raise NotFound()
    policy.require(actor, "users.manage", grant.org)
    record(
        "accounts.grant.delete",
        actor=actor,
        obj=grant,
        org=grant.org,
        changes={"user": grant.user.username, "role": grant.role},
    )
    grant.delete()
