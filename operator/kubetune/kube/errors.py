"""API errors by meaning, so callers catch what they can act on."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """The API server answered with an error status."""

    def __init__(self, status: int, body: dict[str, Any] | str, method: str = "", path: str = "") -> None:
        self.status = status
        self.body = body
        self.reason = body.get("reason", "") if isinstance(body, dict) else ""
        self.message = body.get("message", "") if isinstance(body, dict) else str(body)[:500]
        super().__init__(f"{method} {path}: {status} {self.reason}: {self.message}".strip())


class NotFound(ApiError):
    """404: the object (or its namespace) does not exist."""


class Conflict(ApiError):
    """409: it already exists, or the resourceVersion precondition failed."""


class Forbidden(ApiError):
    """403: RBAC denies the operator this verb."""


class Invalid(ApiError):
    """422: the server rejected the object (schema, CEL rule or admission)."""


class Gone(ApiError):
    """410: a watch's resourceVersion is too old; list again."""


def error_for(status: int, body: dict[str, Any] | str, method: str, path: str) -> ApiError:
    kind = {404: NotFound, 409: Conflict, 403: Forbidden, 422: Invalid, 410: Gone}.get(status, ApiError)
    return kind(status, body, method, path)
