"""Sign-in throttling: passwords and API tokens, per user name and per IP, shared by all
processes through Postgres.

After `SEEDBED_SIGNIN_FAILURES` failed passwords for one user name or from one IP within
`SEEDBED_SIGNIN_WINDOW_SECONDS`, further attempts under that key are refused for a delay
that doubles with every further failure (1 s, 2 s, 4 s, …, at most
`SEEDBED_SIGNIN_MAX_DELAY_SECONDS`), even with the right password. A success clears the
user name's count (not the IP's). API tokens count per IP with their own limit
(`SEEDBED_TOKEN_FAILURES`); a throttled caller gets 429 with `Retry-After`. Every failure
is logged (logger `seedbed.auth`) with its key and count.

The client IP is `REMOTE_ADDR`, or behind a proxy (`SEEDBED_BEHIND_PROXY`, production) the
last `X-Forwarded-For` entry, the one the proxy appended.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils import timezone

from curation.projects.models import SignInFailure

logger = logging.getLogger("seedbed.auth")


@dataclass(frozen=True)
class Policy:
    failures: int  # within the window, after which each attempt first waits
    window_s: float
    max_delay_s: float

    def delay(self, count: int) -> float:
        """Seconds an attempt must wait after the last failure, given `count` failures."""
        over = count - self.failures
        if over < 0:
            return 0.0
        return min(self.max_delay_s, float(2 ** min(over, 30)))


def password_policy() -> Policy:
    return Policy(
        failures=settings.SEEDBED_SIGNIN_FAILURES,
        window_s=settings.SEEDBED_SIGNIN_WINDOW_SECONDS,
        max_delay_s=settings.SEEDBED_SIGNIN_MAX_DELAY_SECONDS,
    )


def token_policy() -> Policy:
    return Policy(
        failures=settings.SEEDBED_TOKEN_FAILURES,
        window_s=settings.SEEDBED_SIGNIN_WINDOW_SECONDS,
        max_delay_s=settings.SEEDBED_SIGNIN_MAX_DELAY_SECONDS,
    )


def client_ip(request: HttpRequest | None) -> str:
    if request is None:
        return "unknown"
    if settings.SEEDBED_CLIENT_IP_FROM_FORWARDED:
        # Behind our proxy, the last X-Forwarded-For entry is the one it added: the client.
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[-1].strip()
        if forwarded:
            return forwarded[:64]
    return str(request.META.get("REMOTE_ADDR") or "unknown")[:64]


def user_key(username: str) -> str:
    return f"user:{username.strip().lower()[:150]}"


def ip_key(request: HttpRequest | None) -> str:
    return f"ip:{client_ip(request)}"


def token_key(request: HttpRequest | None) -> str:
    return f"token:{client_ip(request)}"


def wait_seconds(keys: list[str], policy: Policy) -> int:
    """Whole seconds until an attempt under any of `keys` is allowed again (0: now)."""
    now = timezone.now()
    fresh_from = now - timedelta(seconds=policy.window_s)
    waits = [0.0]
    for row in SignInFailure.objects.filter(key__in=keys, last_at__gte=fresh_from):
        elapsed = (now - row.last_at).total_seconds()
        waits.append(policy.delay(row.count) - elapsed)
    return max(0, math.ceil(max(waits)))


def record_failure(keys: list[str], policy: Policy, *, what: str) -> None:
    now = timezone.now()
    for key in keys:
        count = _bump(key, now, policy)
        logger.warning("failed %s for %s (%d within %.0f s)", what, key, count, policy.window_s)


def clear(key: str) -> None:
    SignInFailure.objects.filter(key=key).delete()


def _bump(key: str, now: datetime, policy: Policy) -> int:
    stale = now - timedelta(seconds=policy.window_s)
    for _ in range(3):
        with transaction.atomic():
            SignInFailure.objects.filter(key=key, last_at__lt=stale).delete()
            if SignInFailure.objects.filter(key=key).update(count=F("count") + 1, last_at=now):
                return SignInFailure.objects.get(key=key).count
            try:
                with transaction.atomic():
                    SignInFailure.objects.create(key=key, count=1, first_at=now, last_at=now)
                return 1
            except IntegrityError:  # another process created it first: count again
                continue
    return policy.failures


# -- hooks: the authentication backend, the sign-in form's message, and the signals ----------


class ThrottledModelBackend(ModelBackend):
    """Django's ModelBackend that first refuses a throttled user name or IP (password unchecked)."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        name = username if username is not None else kwargs.get(get_user_model().USERNAME_FIELD)
        keys = [ip_key(request)] + ([user_key(str(name))] if name else [])
        wait = wait_seconds(keys, password_policy())
        if wait:
            if request is not None:
                request.signin_wait = wait  # type: ignore[attr-defined]
            logger.warning("sign-in refused for %s: throttled for %d s more", keys, wait)
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


class ThrottledAuthenticationForm(AuthenticationForm):
    """The sign-in form, saying how long to wait when the attempt was throttled."""

    def get_invalid_login_error(self) -> ValidationError:
        wait = getattr(self.request, "signin_wait", None)
        if wait:
            return ValidationError(
                f"Too many failed sign-ins for this account or address. Try again in {wait} s.",
                code="throttled",
            )
        return super().get_invalid_login_error()


@receiver(user_login_failed)
def _count_failure(
    sender: Any, credentials: dict[str, Any], request: Any = None, **kw: Any
) -> None:
    if request is not None and getattr(request, "signin_wait", None):
        return  # refused unchecked: not a guess
    name = credentials.get("username") or credentials.get(get_user_model().USERNAME_FIELD)
    keys = [ip_key(request)] + ([user_key(str(name))] if name else [])
    record_failure(keys, password_policy(), what="password")


@receiver(user_logged_in)
def _clear_on_success(sender: Any, request: Any, user: Any, **kw: Any) -> None:
    clear(user_key(user.get_username()))
