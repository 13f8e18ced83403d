"""Fixtures for builder tests: a TrainingJob factory and operator settings with recognisable values."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from builder_inputs import make_trainingjob

from kubetune.api import TrainingJob
from kubetune.settings import OperatorSettings


@pytest.fixture
def trainingjob() -> Callable[..., TrainingJob]:
    """``trainingjob(name=..., resources={...}, ...)``: a parsed TrainingJob."""
    return make_trainingjob


@pytest.fixture
def settings() -> OperatorSettings:
    return OperatorSettings(trainer_image="registry.example/kubetune/trainer:1.2.3",
                            evaluator_image="registry.example/kubetune/evaluator:1.2.3", python="/opt/venv/bin/python",
                            pod_user=1234, progress_port=8181)
