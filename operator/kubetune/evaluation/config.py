"""Read the config the operator mounted at ``/etc/kubetune/evaluator.json``."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from kubetune.api.evaluator import EvaluatorConfig

from .errors import ConfigInvalid


def load_config(path: Path) -> EvaluatorConfig:
    """Parse and validate the config; every problem is a ``ConfigInvalid`` naming the fields at fault."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise ConfigInvalid(f"evaluator config {path} does not exist") from e
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigInvalid(f"evaluator config {path} is not readable JSON: {e}") from e
    try:
        return EvaluatorConfig.model_validate(raw)
    except ValidationError as e:
        problems = [f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}" for err in e.errors()]
        raise ConfigInvalid(f"evaluator config {path} is invalid: {'; '.join(problems[:5])}") from e
