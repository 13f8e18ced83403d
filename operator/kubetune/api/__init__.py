"""The API: pydantic models of TrainingJob, FineTunedModel and ModelComparison, the one source from which
``crds/`` and ``docs/api.md`` are generated (``python -m kubetune.api.crdgen crds``), plus helpers to parse resources
and set conditions.

Pure data and pure functions: no I/O, no Kubernetes client, and no import of any other kubetune package.
"""

from .common import (
    Condition,
    ConfigMapKeyRef,
    DatasetSource,
    LocalObjectRef,
    ModelSource,
    ObjectMeta,
    PostgresSource,
    PvcSource,
    PvcStorage,
    ResourceRequirements,
    SecretKeyRef,
    ServingSpec,
    ServingTarget,
    StorageTarget,
    Toleration,
    TrainingMetrics,
)
from .conditions import format_time, get_condition, is_condition_true, set_condition
from .finetunedmodel import FineTunedModel, FineTunedModelSpec, FineTunedModelStatus
from .modelcomparison import ModelComparison, ModelComparisonSpec, ModelComparisonStatus
from .parsing import KINDS, AnyResource, InvalidResource, parse_resource
from .resource import API_VERSION, GROUP, VERSION, Resource
from .trainingjob import TrainingJob, TrainingJobSpec, TrainingJobStatus

__all__ = [
    "API_VERSION",
    "GROUP",
    "KINDS",
    "VERSION",
    "AnyResource",
    "Condition",
    "ConfigMapKeyRef",
    "DatasetSource",
    "FineTunedModel",
    "FineTunedModelSpec",
    "FineTunedModelStatus",
    "InvalidResource",
    "LocalObjectRef",
    "ModelComparison",
    "ModelComparisonSpec",
    "ModelComparisonStatus",
    "ModelSource",
    "ObjectMeta",
    "PostgresSource",
    "PvcSource",
    "PvcStorage",
    "Resource",
    "ResourceRequirements",
    "SecretKeyRef",
    "ServingSpec",
    "ServingTarget",
    "StorageTarget",
    "Toleration",
    "TrainingJob",
    "TrainingJobSpec",
    "TrainingJobStatus",
    "TrainingMetrics",
    "format_time",
    "get_condition",
    "is_condition_true",
    "parse_resource",
    "set_condition",
]
