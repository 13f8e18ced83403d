"""The bearer token that guards the actions. Scripts send it as ``Authorization: Bearer <token>``; a browser signs in
once with it and then carries a cookie derived from it (HttpOnly, SameSite=Strict), and every form carries a CSRF
value derived from it too. Neither derived value reveals the token, and the token itself is never logged or shown.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

COOKIE = "kubetune_actions"
TOKEN_ENV = "KUBETUNE_DASHBOARD_TOKEN"
MIN_LENGTH = 16


class TokenMissing(ValueError):
    """Actions are on but no usable token was given."""


def load_token(token_file: str | None, environ: dict[str, str] | None = None) -> str:
    """The token from ``token_file`` (a mounted Secret key), else $KUBETUNE_DASHBOARD_TOKEN."""
    env = os.environ if environ is None else environ
    if token_file:
        try:
            token = Path(token_file).read_text().strip()
        except OSError as e:
            raise TokenMissing(f"--token-file {token_file}: {e.strerror or e}") from e
        where = f"--token-file {token_file}"
    else:
        token = env.get(TOKEN_ENV, "").strip()
        where = f"${TOKEN_ENV}"
    if not token:
        raise TokenMissing(f"--actions needs a bearer token: give --token-file FILE or set ${TOKEN_ENV} ({where} is "
                           "empty)")
    if len(token) < MIN_LENGTH:
        raise TokenMissing(f"the token in {where} is shorter than {MIN_LENGTH} characters")
    return token


class Tokens:
    def __init__(self, token: str) -> None:
        self._token = token.encode()

    def _derive(self, purpose: str) -> str:
        return hmac.new(self._token, purpose.encode(), hashlib.sha256).hexdigest()

    def bearer_ok(self, header: str | None) -> bool:
        if not header or not header.startswith("Bearer "):
            return False
        return hmac.compare_digest(header[len("Bearer "):].strip().encode(), self._token)

    def token_ok(self, token: str) -> bool:
        return hmac.compare_digest(token.strip().encode(), self._token)

    @property
    def cookie_value(self) -> str:
        return self._derive("session")

    def cookie_ok(self, value: str | None) -> bool:
        return bool(value) and hmac.compare_digest(str(value), self.cookie_value)

    @property
    def csrf(self) -> str:
        return self._derive("csrf")

    def csrf_ok(self, value: str | None) -> bool:
        return bool(value) and hmac.compare_digest(str(value), self.csrf)
