"""FineTunedModel: an adapter that exists, and the vLLM Deployments that should serve it (hot-loaded, no restart)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal

from pydantic import Field, StringConstraints

from .common import (
    Condition,
    ModelSource,
    SecretKeyRef,
    ServingSpec,
    TrainingMetrics,
    conditions_field,
)
from .resource import AGE_COLUMN, CrdInfo, PrinterColumn, Resource
from .schema import ApiModel, immutable

# The `model` OpenAI-API clients send. vLLM's stale-cache bugs with same-name reloads make it one name per version.
SERVED_NAME = r"^[a-z0-9]([-a-z0-9._]*[a-z0-9])?$"
ServedName = Annotated[str, StringConstraints(pattern=SERVED_NAME, min_length=1, max_length=128)]

# The condition that is True when the adapter is valid and, where targets are set, loaded on every ready replica.
READY = "Ready"


class BaseModelRef(ApiModel):
    """The base model an adapter was trained on."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=r"^[^\s]+$")] = Field(
        description="Model identifier; must match the model (id or root in /v1/models) the vLLM targets serve."
    )


class Origin(ApiModel):
    """Lineage, set by the operator when a TrainingJob creates the FineTunedModel. Informational."""

    training_job: str | None = Field(default=None, max_length=253, description="The TrainingJob that trained it.")
    dataset_sha256: str | None = Field(default=None, max_length=64, description="SHA-256 of its training dataset.")
    metrics: TrainingMetrics | None = Field(default=None, description="Final training metrics.")


class FineTunedModelSpec(ApiModel):
    """The adapter, its served name, and where to serve it."""

    base_model: BaseModelRef = Field(
        description="The base model the adapter applies to. Immutable.",
        json_schema_extra=immutable("baseModel", "an adapter belongs to one base model"),
    )
    adapter: ModelSource = Field(
        description="Where the adapter (adapter_config.json and weights) is: exactly one of pvc or uri. Immutable.",
        json_schema_extra=immutable(
            "adapter", "reloading other weights under the same served name hits vLLM's stale adapter cache; create a "
            "new FineTunedModel with a new servedName"
        ),
    )
    served_name: ServedName = Field(
        description="The model name clients send to vLLM (e.g. support-bot-v3): lowercase letters, digits, '-', '.' "
        "and '_', at most 128. Immutable: a new version gets a new name and is loaded beside the old one.",
        json_schema_extra=immutable(
            "servedName", "a new adapter version needs a new servedName (e.g. support-bot-v4) and a new FineTunedModel"
        ),
    )
    serving: ServingSpec | None = Field(
        default=None, description="Deployments to hot-load the adapter into; empty means registered but not served."
    )
    origin: Origin | None = Field(default=None, description="Lineage, when a TrainingJob created this model.")


# -- status ------------------------------------------------------------------------------------------------------
Phase = Literal["Pending", "Validating", "Ready", "Deploying", "Serving", "Degraded", "Failed"]


class AdapterInfo(ApiModel):
    """What validation read from the adapter artifact."""

    rank: int | None = Field(default=None, ge=0, description="LoRA rank (r) from adapter_config.json.")
    alpha: float | None = Field(default=None, description="lora_alpha from adapter_config.json.")
    target_modules: list[str] | None = Field(default=None, description="Adapted modules from adapter_config.json.")
    base_model: str | None = Field(default=None, description="base_model_name_or_path from adapter_config.json.")
    sha256: str | None = Field(default=None, description="SHA-256 over the adapter's files.")
    size_bytes: int | None = Field(default=None, ge=0, description="Total size of the adapter's files.")
    files: list[str] | None = Field(default=None, description="The adapter's files.")


class PodStatus(ApiModel):
    """The adapter on one vLLM pod."""

    name: str = Field(description="Pod name.")
    ip: str | None = Field(default=None, description="Pod IP the operator reached vLLM on.")
    loaded: bool = Field(default=False, description="Whether /v1/models lists the adapter on this pod.")
    loaded_at: datetime | None = Field(default=None, description="When the adapter was loaded on this pod.")
    message: str | None = Field(default=None, description="Why the adapter is not loaded, if it is not.")


class TargetStatus(ApiModel):
    """The adapter on one serving target."""

    deployment: str = Field(description="Name of the Deployment.")
    port: int | None = Field(default=None, ge=1, le=65535, description="Port of vLLM on its pods.")
    api_key_secret_ref: SecretKeyRef | None = Field(
        default=None, description="The Secret key of vLLM's API key (a reference; the key itself is never here)."
    )
    lora_ready: bool | None = Field(
        default=None, description="Whether the Deployment runs vLLM with runtime LoRA loading enabled."
    )
    ready_replicas: int | None = Field(default=None, ge=0, description="Ready pods of the Deployment.")
    loaded_replicas: int | None = Field(default=None, ge=0, description="Ready pods with the adapter loaded.")
    message: str | None = Field(default=None, description="What stands in the way, if anything.")
    pods: list[PodStatus] | None = Field(default=None, description="The adapter on each ready pod.")


class FineTunedModelStatus(ApiModel):
    """What the operator observed. Written only by the operator."""

    phase: Phase | None = Field(
        default=None, description="Pending, Validating, Ready, Deploying, Serving, Degraded or Failed."
    )
    conditions: list[Condition] = conditions_field()
    observed_generation: int | None = Field(
        default=None, ge=0, description="metadata.generation of the spec the status reflects."
    )
    adapter: AdapterInfo | None = Field(default=None, description="What validation read from the artifact.")
    validation_attempts: int | None = Field(
        default=None, ge=0, description="Validation pods that failed without a report (retried up to 3 times)."
    )
    targets: list[TargetStatus] | None = Field(default=None, description="The adapter on each serving target.")
    served_replicas: int | None = Field(
        default=None, ge=0, description="Pods, across all targets, that serve the adapter."
    )
    loaded: str | None = Field(
        default=None, description="Pods with the adapter loaded over ready pods, across targets (e.g. 3/3)."
    )
    reason: str | None = Field(default=None, description="CamelCase reason for the current phase.")
    message: str | None = Field(default=None, description="Human-readable detail for the current phase.")


class FineTunedModel(Resource):
    """A LoRA adapter and the vLLM Deployments that serve it. The operator validates the artifact against the base
    model and the targets' --max-lora-rank, hot-loads it into every ready vLLM pod through the runtime LoRA API (no
    restart), loads it on pods that start later, and unloads it on delete."""

    kind: Literal["FineTunedModel"] = Field(default="FineTunedModel", description="FineTunedModel.")
    spec: FineTunedModelSpec = Field(description="Desired adapter and serving.")
    status: FineTunedModelStatus = Field(default_factory=FineTunedModelStatus, description="Observed state.")

    crd: ClassVar[CrdInfo] = CrdInfo(
        plural="finetunedmodels",
        short_names=("ftm",),
        columns=(
            PrinterColumn("Served", ".spec.servedName", "string", "Model name clients send to vLLM."),
            PrinterColumn("Loaded", ".status.loaded", "string", "Pods with the adapter loaded / ready pods."),
            PrinterColumn("Phase", ".status.phase", "string", "Lifecycle phase."),
            PrinterColumn(
                "Ready", '.status.conditions[?(@.type=="Ready")].status', "string", "The Ready condition.", priority=1
            ),
            PrinterColumn("Base", ".spec.baseModel.name", "string", "Base model.", priority=1),
            AGE_COLUMN,
        ),
    )
