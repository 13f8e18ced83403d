"""Redacting credentials from text before it leaves the process (status, Events, logs, termination messages).

Standard library only, so the operator and the in-pod code can both use it.
"""

from __future__ import annotations

import re

# //user:password@host -> //user:***@host, whatever comes before the slashes (a malformed scheme included)
_URL_USERINFO = re.compile(r"(?P<scheme>//)(?P<user>[^\s/:@'\"]*):(?P<secret>[^\s@/'\"]+)@")
# libpq key=value strings and similar: password=..., passwd: ...
_KEY_VALUE = re.compile(r"(?i)\b(?P<key>password|passwd|pwd|api[_-]?key|token|secret)(?P<sep>\s*[=:]\s*)"
                        r"(?P<q>['\"]?)(?P<secret>[^\s'\"&;,]+)(?P=q)")
MASK = "***"


def redact(text: str, *secrets: str | None) -> str:
    """``text`` with URL passwords, ``password=`` style values and the given secret values masked."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, MASK)
    text = _URL_USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    return _KEY_VALUE.sub(lambda m: f"{m['key']}{m['sep']}{m['q']}{MASK}{m['q']}", text)
