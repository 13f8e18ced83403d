"""Turn a raw custom-resource dict (a kopf body, an API response, a parsed manifest) into its model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from .finetunedmodel import FineTunedModel
from .modelcomparison import ModelComparison
from .resource import API_VERSION
from .trainingjob import TrainingJob

AnyResource = TrainingJob | FineTunedModel | ModelComparison
KINDS: dict[str, type[TrainingJob] | type[FineTunedModel] | type[ModelComparison]] = {
    "TrainingJob": TrainingJob,
    "FineTunedModel": FineTunedModel,
    "ModelComparison": ModelComparison,
}


class InvalidResource(ValueError):
    """A custom resource does not match its model. ``errors`` lists (field path, problem) pairs."""

    def __init__(self, kind: str, name: str | None, errors: list[tuple[str, str]]) -> None:
        self.kind = kind
        self.name = name
        self.errors = errors
        what = f"{kind} {name}" if name else kind
        detail = "; ".join(f"{path}: {problem}" for path, problem in errors)
        super().__init__(f"invalid {what}: {detail}")


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<root>"


def parse_resource(body: Mapping[str, Any]) -> AnyResource:
    """Parse a TrainingJob, FineTunedModel or ModelComparison, dispatching on ``kind``.

    Raises InvalidResource naming each offending field by its wire (camelCase) path, e.g. ``spec.lora.r``.
    """
    kind = body.get("kind")
    name = (body.get("metadata") or {}).get("name")
    model = KINDS.get(kind) if isinstance(kind, str) else None
    if model is None or not isinstance(kind, str):
        raise InvalidResource(str(kind), name, [("kind", f"must be one of {', '.join(KINDS)}, got {kind!r}")])
    if body.get("apiVersion", API_VERSION) != API_VERSION:
        raise InvalidResource(kind, name, [("apiVersion", f"must be {API_VERSION}, got {body.get('apiVersion')!r}")])
    try:
        return model.model_validate(dict(body))
    except ValidationError as e:
        errors = [(_path(err["loc"]), err["msg"].removeprefix("Value error, ")) for err in e.errors()]
        raise InvalidResource(kind, name, errors) from e
