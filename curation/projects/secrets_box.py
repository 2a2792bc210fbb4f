"""Symmetric encryption for secrets at rest (endpoint API keys).

The key comes from SEEDBED_FERNET_KEY, or is derived from SECRET_KEY when that is
unset. Rotating SECRET_KEY without SEEDBED_FERNET_KEY makes stored keys unreadable,
which `decrypt` reports clearly instead of returning garbage.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


class SecretUnreadable(Exception):
    pass


def _fernet() -> Fernet:
    key = settings.SEEDBED_FERNET_KEY
    if not key:
        digest = hashlib.sha256(b"seedbed-fernet:" + settings.SECRET_KEY.encode()).digest()
        key = base64.urlsafe_b64encode(digest).decode()
    return Fernet(key)


def encrypt(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable(
            "stored API key cannot be decrypted (SECRET_KEY or SEEDBED_FERNET_KEY changed); "
            "set it again"
        ) from exc
