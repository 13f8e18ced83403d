"""Types shared by the three kinds: names, references, storage and dataset sources, resource requirements,
conditions and object metadata. Pure data, no I/O.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from .schema import ApiModel, Rule, cel, list_map

# -- names -------------------------------------------------------------------------------------------------------
DNS1123_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
# A ConfigMap or Secret data key.
DATA_KEY = r"^[-._a-zA-Z0-9]+$"
# Kubernetes resource.Quantity, as the core types publish it.
QUANTITY = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
    r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)

DnsLabel = Annotated[str, StringConstraints(pattern=DNS1123_LABEL, min_length=1, max_length=63)]
DnsSubdomain = Annotated[str, StringConstraints(pattern=DNS1123_SUBDOMAIN, min_length=1, max_length=253)]
DataKey = Annotated[str, StringConstraints(pattern=DATA_KEY, min_length=1, max_length=253)]
VOLUME_PATH_RULE = Rule(
    "!self.startsWith('/') && !self.split('/').exists(p, p == '..')",
    "path must be relative to the volume root and must not contain '..'",
)


def _check_volume_path(value: str) -> str:
    if value.startswith("/") or ".." in value.split("/"):
        raise ValueError(VOLUME_PATH_RULE.message)
    return value


# A path inside a volume: relative, without `..`, so a spec cannot reach outside the claim it names.
VolumePath = Annotated[str, StringConstraints(max_length=1024), AfterValidator(_check_volume_path)]
Port = Annotated[int, Field(ge=1, le=65535)]

ConditionStatus = Literal["True", "False", "Unknown"]


# -- references --------------------------------------------------------------------------------------------------
class LocalObjectRef(ApiModel):
    """A reference to an object of a known kind in the same namespace."""

    name: DnsSubdomain = Field(description="Name of the object, in the same namespace.")


class SecretKeyRef(ApiModel):
    """A key of a Secret in the same namespace. The value is read by the pod that needs it and never copied into
    status, events, logs or the database."""

    name: DnsSubdomain = Field(description="Name of the Secret, in the same namespace.")
    key: DataKey = Field(description="Key within the Secret's data.")


class ConfigMapKeyRef(ApiModel):
    """A key of a ConfigMap in the same namespace."""

    name: DnsSubdomain = Field(description="Name of the ConfigMap, in the same namespace.")
    key: DataKey = Field(description="Key within the ConfigMap's data.")


class PvcSource(ApiModel):
    """A file or directory on a PersistentVolumeClaim in the same namespace."""

    claim_name: DnsSubdomain = Field(description="Name of the PersistentVolumeClaim, in the same namespace.")
    path: VolumePath = Field(
        default="",
        description="Path inside the volume, relative to its root; empty means the root. Must not contain '..'.",
        json_schema_extra=cel(VOLUME_PATH_RULE),
    )


# -- models and storage ------------------------------------------------------------------------------------------
MODEL_URI = r"^(hf|s3|https)://[^\s]+$"
HTTP_URI = r"^https?://[^\s]+$"

ModelUri = Annotated[str, StringConstraints(pattern=MODEL_URI, max_length=2048)]
HttpUri = Annotated[str, StringConstraints(pattern=HTTP_URI, max_length=2048)]


class ModelSource(ApiModel):
    """Where model weights (a base model or an adapter) are read from: exactly one of pvc or uri."""

    one_of = ("pvc", "uri")

    pvc: PvcSource | None = Field(default=None, description="A directory on a PersistentVolumeClaim.")
    uri: ModelUri | None = Field(
        default=None,
        description="A remote location: hf://<org>/<repo>[@revision], s3://<bucket>/<prefix> or https://<url>.",
    )


class PvcStorage(ApiModel):
    """A directory on a PersistentVolumeClaim that the operator writes into."""

    claim_name: DnsSubdomain = Field(description="Name of the PersistentVolumeClaim, in the same namespace.")
    path: VolumePath = Field(
        default="",
        description="Directory inside the volume under which outputs are written, relative to its root; empty means "
        "the root. Must not contain '..'.",
        json_schema_extra=cel(VOLUME_PATH_RULE),
    )


class StorageTarget(ApiModel):
    """Where outputs are written."""

    pvc: PvcStorage = Field(description="A PersistentVolumeClaim that training pods mount read-write.")


# -- datasets ----------------------------------------------------------------------------------------------------
DatasetFormat = Literal["openai", "chatml", "alpaca", "sharegpt", "prompt-completion", "text"]
INLINE_ROWS_MAX = 500


class PostgresSource(ApiModel):
    """Rows read from a PostgreSQL query. The query runs in a read-only transaction with a statement timeout, and
    rows are streamed, so the export runs in constant memory."""

    secret_ref: SecretKeyRef = Field(
        description="Secret key holding the database URL (postgresql://user:password@host:5432/db). Use a role with "
        "read access only."
    )
    query: str = Field(
        min_length=1,
        max_length=65536,
        description="The SELECT statement whose rows become examples, e.g. "
        "`select prompt, answer from conversations where gold_star`.",
    )
    mapping: dict[str, Annotated[str, StringConstraints(min_length=1, max_length=256)]] = Field(
        default_factory=dict,
        max_length=32,
        description="Maps a field of the dataset format (e.g. prompt, completion, instruction, output, text, "
        "messages) to a column of the query result. A field not mapped is read from the column of the same name.",
    )
    statement_timeout_seconds: int = Field(
        default=300, ge=1, le=86400, description="Server-side statement timeout for the query, in seconds."
    )
    fetch_size: int = Field(
        default=1000, ge=1, le=100000, description="Rows fetched per round trip from the server-side cursor."
    )


class DatasetSource(ApiModel):
    """Where the examples come from: exactly one of inline, configMap, pvc, uri or postgres."""

    one_of = ("inline", "config_map", "pvc", "uri", "postgres")

    inline: list[dict[str, Any]] | None = Field(
        default=None,
        max_length=INLINE_ROWS_MAX,
        description=f"Examples written in the manifest, one JSON object per example (at most {INLINE_ROWS_MAX}). "
        "For more, use a configMap, pvc, uri or postgres source.",
    )
    config_map: ConfigMapKeyRef | None = Field(
        default=None, description="A ConfigMap key holding JSON Lines (one example per line)."
    )
    pvc: PvcSource | None = Field(
        default=None, description="A JSON Lines file (or a directory of them) on a PersistentVolumeClaim."
    )
    uri: HttpUri | None = Field(default=None, description="An http(s) URL of a JSON Lines file.")
    postgres: PostgresSource | None = Field(default=None, description="Rows of a PostgreSQL query.")


# -- pods --------------------------------------------------------------------------------------------------------
class Toleration(ApiModel):
    """A Kubernetes toleration (core/v1 Toleration) for the training pod."""

    cel_rules = (
        Rule(
            "!has(self.operator) || self.operator != 'Exists' || !has(self.value) || self.value == ''",
            "value must be empty when operator is Exists",
            field_path=".value",
        ),
    )

    key: str | None = Field(
        default=None, max_length=316, description="Taint key to tolerate; empty with operator Exists matches all."
    )
    operator: Literal["Exists", "Equal"] | None = Field(
        default=None, description="Exists or Equal (the default): how key and value are compared."
    )
    value: str | None = Field(default=None, max_length=63, description="Taint value to match with operator Equal.")
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = Field(
        default=None, description="Taint effect to match; empty matches all effects."
    )
    toleration_seconds: int | None = Field(
        default=None, description="For NoExecute: how long the pod stays bound after the taint appears."
    )

    @model_validator(mode="after")
    def _exists_has_no_value(self) -> Self:
        if self.operator == "Exists" and self.value:
            raise ValueError(self.cel_rules[0].message)
        return self




def _check_quantity(value: object) -> int | str:
    # One validator instead of a pydantic union, so an error names the field once rather than once per member.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.match(QUANTITY, value):
        return value
    raise ValueError(f"{value!r} is not a Kubernetes quantity (e.g. 8, 500m, 48Gi)")


Quantity = Annotated[
    int | str,
    PlainValidator(_check_quantity),
    WithJsonSchema(
        {"anyOf": [{"type": "integer"}, {"type": "string"}], "x-kubernetes-int-or-string": True, "pattern": QUANTITY}
    ),
]


NODES_MAX = 64
PROCESS_PER_GPU_RULE = Rule(
    "!has(self.processesPerNode) || self.gpus == 0 || self.processesPerNode <= self.gpus",
    "processesPerNode must be at most gpus: each training process drives its own GPU (leave processesPerNode unset "
    "to start one process per GPU)",
    field_path=".processesPerNode",
)


class ResourceRequirements(ApiModel):
    """Compute resources and placement of the pods the operator runs. With ``nodes`` or ``processesPerNode`` above 1
    the training is data-parallel (DDP): one process per GPU, each on its share of the data."""

    cel_rules = (PROCESS_PER_GPU_RULE,)

    gpus: int = Field(
        default=1, ge=0, le=64, description="GPUs per pod (per node); 0 trains on CPU (huggingface backend)."
    )
    nodes: int = Field(
        default=1,
        ge=1,
        le=NODES_MAX,
        description=f"Pods (nodes) that train together, 1 to {NODES_MAX}, each with gpus GPUs and processesPerNode "
        "processes. Above 1 the trainer runs as an Indexed Job of that many pods behind a headless Service, started "
        "by torchrun; every pod mounts the same output claim, so it must be ReadWriteMany.",
    )
    processes_per_node: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="Training processes per pod, started by torchrun --nproc-per-node. Default: one per GPU (gpus), "
        "or 1 on CPU. On GPUs it may not exceed gpus.",
    )
    gpu_resource_name: str = Field(
        default="nvidia.com/gpu",
        max_length=253,
        pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?/[a-zA-Z0-9]([-a-zA-Z0-9_.]*[a-zA-Z0-9])?$",
        description="Extended resource name the GPUs are requested as (e.g. nvidia.com/gpu, amd.com/gpu).",
    )
    cpu: Quantity | None = Field(default=None, description="CPU request and limit, as a quantity (e.g. 8 or 500m).")
    memory: Quantity | None = Field(default=None, description="Memory request and limit, as a quantity (e.g. 48Gi).")
    node_selector: dict[str, Annotated[str, StringConstraints(max_length=63)]] | None = Field(
        default=None, max_length=32, description="Node labels the pod must be scheduled on."
    )
    tolerations: list[Toleration] | None = Field(
        default=None, max_length=32, description="Tolerations for tainted (e.g. GPU) nodes."
    )
    priority_class_name: DnsSubdomain | None = Field(
        default=None, description="PriorityClass of the pod; a lower one lets serving preempt training."
    )

    @model_validator(mode="after")
    def _one_process_per_gpu(self) -> Self:
        # Mirrors PROCESS_PER_GPU_RULE, so the operator refuses what the API server would.
        if self.processes_per_node is not None and self.gpus and self.processes_per_node > self.gpus:
            raise ValueError(PROCESS_PER_GPU_RULE.message)
        return self

    def processes(self) -> int:
        """Training processes per pod: processesPerNode, else one per GPU, else 1 (CPU)."""
        return self.processes_per_node if self.processes_per_node is not None else max(self.gpus, 1)

    def world_size(self) -> int:
        """Training processes in all: pods times processes per pod. 1 is the plain single-process trainer."""
        return self.nodes * self.processes()


# -- serving -----------------------------------------------------------------------------------------------------
class ServingTarget(ApiModel):
    """A vLLM Deployment, in the same namespace, that serves the adapter."""

    deployment: DnsSubdomain = Field(description="Name of the vLLM Deployment, in the same namespace.")
    port: Port = Field(default=8000, description="Port of vLLM's OpenAI-compatible server on each pod.")
    api_key_secret_ref: SecretKeyRef | None = Field(
        default=None, description="Secret key holding the API key vLLM was started with (--api-key), if any."
    )
    prepare: bool = Field(
        default=False,
        description="Opt in to the operator patching the Deployment to be LoRA-ready (--enable-lora, "
        "--max-loras, --max-lora-rank, VLLM_ALLOW_RUNTIME_LORA_UPDATING=True), which rolls its pods once. When false, "
        "a Deployment that is not LoRA-ready is reported in status and left alone.",
    )


SERVING_TARGETS_MAX = 16


class ServingSpec(ApiModel):
    """The vLLM Deployments that serve an adapter."""

    targets: list[ServingTarget] = Field(
        default_factory=list,
        max_length=SERVING_TARGETS_MAX,
        description=f"Deployments to hot-load the adapter into, unique by deployment (at most {SERVING_TARGETS_MAX}).",
        json_schema_extra=list_map("deployment"),
    )

    @model_validator(mode="after")
    def _unique_deployments(self) -> Self:
        names = [t.deployment for t in self.targets]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"targets must name each deployment once; repeated: {', '.join(duplicates)}")
        return self


class TrainingMetrics(ApiModel):
    """Final metrics of a finished training run."""

    train_loss: float | None = Field(default=None, description="Mean training loss over the last logging window.")
    eval_loss: float | None = Field(default=None, description="Loss on the validation split at the end.")
    steps: int | None = Field(default=None, ge=0, description="Optimizer steps run.")
    epochs: float | None = Field(default=None, ge=0, description="Epochs run (fractional when maxSteps stopped early).")
    tokens_per_second: float | None = Field(default=None, ge=0, description="Mean training throughput.")
    runtime_seconds: float | None = Field(default=None, ge=0, description="Wall time of training.")


# -- conditions --------------------------------------------------------------------------------------------------
CONDITION_TYPE = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"
)
CONDITION_REASON = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"


class Condition(ApiModel):
    """One aspect of the resource's state, in the shape of metav1.Condition."""

    type: str = Field(
        pattern=CONDITION_TYPE, max_length=316, description="Type of condition in CamelCase, e.g. Ready."
    )
    status: ConditionStatus = Field(description="True, False or Unknown.")
    observed_generation: int | None = Field(
        default=None, ge=0, description="metadata.generation of the spec this condition was computed from."
    )
    last_transition_time: datetime = Field(description="When status last changed (not reason or message).")
    reason: str = Field(
        min_length=1,
        max_length=1024,
        pattern=CONDITION_REASON,
        description="Machine-readable CamelCase reason for the last transition, e.g. DatasetInvalid.",
    )
    message: str = Field(default="", max_length=32768, description="Human-readable detail; may be empty.")


CONDITIONS_MAX = 16


def conditions_field() -> Any:
    """The ``conditions`` field every status has: a list keyed by type."""
    return Field(
        default_factory=list,
        max_length=CONDITIONS_MAX,
        description="Latest observations of the resource's state, one per type.",
        json_schema_extra=list_map("type"),
    )


# -- metadata ----------------------------------------------------------------------------------------------------
class ObjectMeta(ApiModel):
    """The metadata fields the operator reads; others are kept as they are."""

    model_config = ConfigDict(extra="allow")

    name: str | None = Field(default=None, description="Name of the object.")
    namespace: str | None = Field(default=None, description="Namespace of the object.")
    uid: str | None = Field(default=None, description="UID of the object.")
    generation: int | None = Field(default=None, description="Generation of the spec.")
    resource_version: str | None = Field(default=None, description="Resource version for optimistic concurrency.")
    labels: dict[str, str] = Field(default_factory=dict, description="Labels.")
    annotations: dict[str, str] = Field(default_factory=dict, description="Annotations.")
