"""TrainingJob: train a LoRA or QLoRA adapter on a dataset for a base model, and register the result as a
FineTunedModel.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, ClassVar, Literal, Self

from pydantic import AfterValidator, Field, PlainValidator, StringConstraints, WithJsonSchema, model_validator

from .common import (
    Condition,
    DatasetFormat,
    DatasetSource,
    DnsLabel,
    LocalObjectRef,
    ModelUri,
    PvcSource,
    ResourceRequirements,
    SecretKeyRef,
    ServingSpec,
    StorageTarget,
    TrainingMetrics,
    conditions_field,
)
from .resource import AGE_COLUMN, CrdInfo, PrinterColumn, Resource
from .schema import ApiModel, Rule, cel

ModelName = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=r"^[^\s]+$")]

# -- spec --------------------------------------------------------------------------------------------------------


# hf://<org>/<repo>[@revision]. The repo id follows huggingface_hub's own rule (letters, digits, '-', '_', '.', at most
# 96 per part, no '--' or '..'); a revision is a branch, a tag or a commit sha, git ref names such as refs/pr/1
# included. RE2 and Python read this pattern alike, so the API server and the operator refuse the same URIs.
_HUB_NAME = r"[A-Za-z0-9_]([A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?"
HF_URI = rf"^hf://({_HUB_NAME}/)?{_HUB_NAME}(@[A-Za-z0-9_]([A-Za-z0-9_./-]{{0,253}}[A-Za-z0-9_])?)?$"
HF_URI_RULE = Rule(
    f"!self.startsWith('hf://') || (self.matches('{HF_URI}') && !self.contains('..') && "
    "!self.split('@')[0].contains('--'))",
    "uri must be hf://<org>/<repo>[@revision]: org and repo of letters, digits, '-', '_' and '.' (at most 96 each, "
    "no '--' or '..'), and revision a branch, a tag or a 40-character commit sha "
    "(e.g. hf://Qwen/Qwen2.5-0.5B-Instruct@main)",
)
HUB_ONLY_RULE = Rule(
    "self.startsWith('hf://')",
    "only hf://<org>/<repo>[@revision] base models can be trained on; s3:// and https:// are not supported: copy the "
    "weights to a PersistentVolumeClaim and use source.pvc",
)


def _check_hub_uri(value: str | None) -> str | None:
    if value is None:
        return None
    if not value.startswith("hf://"):
        raise ValueError(HUB_ONLY_RULE.message)
    if not re.fullmatch(HF_URI, value) or ".." in value or "--" in value.split("@")[0]:
        raise ValueError(HF_URI_RULE.message)
    return value


class BaseModelSource(ApiModel):
    """Where a base model's weights are read from: exactly one of pvc or uri (hf:// only)."""

    one_of = ("pvc", "uri")
    cel_rules = (
        Rule(
            "!has(self.tokenSecretRef) || has(self.uri)",
            "tokenSecretRef applies only to an hf:// uri; a pvc source needs no token",
            field_path=".tokenSecretRef",
        ),
    )

    pvc: PvcSource | None = Field(default=None, description="A directory on a PersistentVolumeClaim.")
    uri: Annotated[ModelUri | None, AfterValidator(_check_hub_uri)] = Field(
        default=None,
        description="A model on the Hugging Face Hub: hf://<org>/<repo>[@revision], where revision is a branch, a "
        "tag or a commit sha (default: main). The training pod downloads it at start into its own /tmp "
        "(an emptyDir); s3:// and https:// are not supported for training.",
        json_schema_extra=cel(HUB_ONLY_RULE, HF_URI_RULE),
    )
    token_secret_ref: SecretKeyRef | None = Field(
        default=None,
        description="Secret key holding a Hugging Face access token, for a private or gated model. The training pod "
        "reads it as HF_TOKEN; it is never written into the job config, status, events or logs.",
    )

    @model_validator(mode="after")
    def _token_needs_uri(self) -> Self:
        if self.token_secret_ref is not None and self.uri is None:
            raise ValueError(self.cel_rules[0].message)
        return self

    def hub_repo(self) -> tuple[str, str | None] | None:
        """``(repo id, revision or None for the default branch)`` of an hf:// uri; None for any other source."""
        if self.uri is None or not self.uri.startswith("hf://"):
            return None
        repo, _, revision = self.uri.removeprefix("hf://").partition("@")
        return repo, revision or None


class BaseModelSpec(ApiModel):
    """The model the adapter is trained on."""

    name: ModelName = Field(
        description="Model identifier, as vLLM serves it and the adapter records it (e.g. google/gemma-3-12b-it)."
    )
    source: BaseModelSource = Field(
        description="Where the weights are read from: exactly one of pvc or uri (hf:// only)."
    )


class Dataset(ApiModel):
    """The training examples, their format, and how bad rows are treated."""

    format: DatasetFormat = Field(
        default="openai",
        description="Row format: openai ({messages: [{role, content}]}), chatml, alpaca ({instruction, input, "
        "output}), sharegpt ({conversations: [{from, value}]}), prompt-completion ({prompt, completion}) or text "
        "({text}).",
    )
    source: DatasetSource = Field(
        description="Where the rows come from: exactly one of inline, configMap, pvc, uri or postgres."
    )
    validation_split: float = Field(
        default=0.05, ge=0, le=0.5, description="Share of examples held out for evaluation, between 0 and 0.5."
    )
    max_rejected_fraction: float = Field(
        default=0.01,
        ge=0,
        le=1,
        description="Rejection policy: invalid rows (bad format, empty, over-long) are skipped and counted; the job "
        "fails before training when more than this share of rows is invalid.",
    )


TARGET_MODULES_MAX = 64
_MODULE = r"^[A-Za-z0-9_.]+$"
# A string or a list cannot share one structural type, and CEL cannot see an untyped node, so the CRD keeps the
# value untyped and checks it with keywords that apply only to their own type: the pattern to strings, the item
# bounds to lists. Other types pass the API server and are refused by the operator when it parses the spec.
TARGET_MODULES_MESSAGE = (
    f"targetModules must be the string all-linear or a list of 1 to {TARGET_MODULES_MAX} module names such as "
    "[q_proj, v_proj]"
)


def _check_target_modules(value: object) -> str | list[str]:
    # One validator instead of a pydantic union, so an error names the field once rather than once per member.
    if value == "all-linear":
        return "all-linear"
    if (
        isinstance(value, list)
        and 1 <= len(value) <= TARGET_MODULES_MAX
        and all(isinstance(m, str) and re.fullmatch(_MODULE, m) and len(m) <= 128 for m in value)
    ):
        return list(value)
    raise ValueError(TARGET_MODULES_MESSAGE)


TargetModules = Annotated[
    str | list[str],
    PlainValidator(_check_target_modules),
    WithJsonSchema(
        {
            "x-kubernetes-preserve-unknown-fields": True,
            "pattern": "^all-linear$",
            "minItems": 1,
            "maxItems": TARGET_MODULES_MAX,
            "items": {"type": "string", "pattern": _MODULE, "minLength": 1, "maxLength": 128},
        }
    ),
]


class LoraSpec(ApiModel):
    """LoRA adapter shape."""

    r: int = Field(
        default=16, ge=1, le=256, description="Rank of the update matrices (1 to 256). Must not exceed the "
        "--max-lora-rank of the vLLM targets that serve it."
    )
    alpha: int = Field(default=32, ge=1, le=512, description="Scaling factor (1 to 512); commonly twice r.")
    dropout: float = Field(default=0.05, ge=0, le=0.5, description="Dropout on the LoRA layers (0 to 0.5).")
    target_modules: TargetModules = Field(
        default="all-linear",
        description="Modules to adapt: the string all-linear (every linear layer but the output head) or a list of "
        f"1 to {TARGET_MODULES_MAX} module names such as [q_proj, k_proj, v_proj, o_proj]. Values of other types "
        "pass the API server and are refused by the operator.",
    )


LrScheduler = Literal[
    "linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup", "inverse_sqrt"
]


class Hyperparameters(ApiModel):
    """Optimisation settings."""

    epochs: int = Field(default=3, ge=1, le=100, description="Passes over the training split (1 to 100).")
    max_steps: int | None = Field(
        default=None, ge=1, le=10_000_000, description="Stop after this many optimizer steps; overrides epochs."
    )
    batch_size: int = Field(default=4, ge=1, le=1024, description="Examples per device per step.")
    gradient_accumulation_steps: int = Field(
        default=1, ge=1, le=1024, description="Steps whose gradients are summed before an optimizer update."
    )
    learning_rate: float = Field(
        default=2e-4, gt=0, le=1, description="Peak learning rate; greater than 0 and at most 1."
    )
    max_seq_length: int = Field(
        default=2048, ge=16, le=131072, description="Tokens per example (16 to 131072); longer examples are rejected."
    )
    warmup_ratio: float = Field(default=0.03, ge=0, le=1, description="Share of steps spent warming up (0 to 1).")
    lr_scheduler: LrScheduler = Field(default="cosine", description="Learning-rate schedule after warmup.")
    seed: int = Field(default=42, ge=0, le=4294967295, description="Random seed for shuffling, split and init.")


class CheckpointSpec(ApiModel):
    """Checkpoints let a preempted or failed pod resume instead of starting over."""

    every_steps: int = Field(default=100, ge=1, le=1_000_000, description="Save a checkpoint every this many steps.")
    keep: int = Field(default=2, ge=1, le=20, description="Checkpoints kept on the output volume (1 to 20).")


class OutputSpec(ApiModel):
    """What the job produces."""

    model_name: DnsLabel = Field(
        description="Model name (a DNS-1123 label, e.g. support-bot). Each successful run registers the next "
        "version as a FineTunedModel <modelName>-v<N> (also its servedName); the adapter is written under "
        "<storage path>/<modelName>/ on the output volume."
    )
    storage: StorageTarget = Field(description="Where checkpoints and the adapter are written.")


class TrainingJobSpec(ApiModel):
    """What to train, on what, and where the adapter goes."""

    cel_rules = (
        Rule(
            "self.method != 'qlora' || self.resources.gpus >= 1",
            "method qlora needs resources.gpus >= 1: 4-bit quantisation runs only on GPUs; use method lora on CPU",
            field_path=".resources.gpus",
        ),
        Rule(
            "self.backend != 'unsloth' || self.resources.gpus >= 1",
            "backend unsloth needs resources.gpus >= 1; use backend huggingface or auto to train on CPU",
            field_path=".resources.gpus",
        ),
        Rule(
            "self.backend != 'unsloth' || (self.resources.nodes == 1 && (has(self.resources.processesPerNode) ? "
            "self.resources.processesPerNode == 1 : self.resources.gpus <= 1))",
            "backend unsloth trains in one process on one GPU (the Unsloth of kubetune's GPU trainer image documents "
            "no supported multi-GPU mode): keep resources.nodes at 1 and gpus (or processesPerNode) at 1, or use "
            "backend huggingface or auto, which train on several GPUs and nodes with DDP",
            field_path=".resources",
        ),
    )

    base_model: BaseModelSpec = Field(description="The model to train on and where its weights are.")
    dataset: Dataset = Field(description="The training data.")
    method: Literal["lora", "qlora"] = Field(
        default="lora", description="lora trains 16-bit adapters; qlora quantises the base to 4 bits (needs a GPU)."
    )
    backend: Literal["auto", "unsloth", "huggingface"] = Field(
        default="auto",
        description="Training library: auto picks unsloth when the pod has a GPU and huggingface (PEFT/TRL) otherwise.",
    )
    lora: LoraSpec = Field(default_factory=LoraSpec, description="Adapter shape.")
    hyperparameters: Hyperparameters = Field(default_factory=Hyperparameters, description="Optimisation settings.")
    resources: ResourceRequirements = Field(
        default_factory=ResourceRequirements, description="Compute and placement of the training pod."
    )
    checkpoint: CheckpointSpec = Field(default_factory=CheckpointSpec, description="Checkpointing for resumption.")
    output: OutputSpec = Field(description="The adapter's name and storage.")
    serving: ServingSpec | None = Field(
        default=None, description="Deployments to serve the adapter on success (copied into the FineTunedModel)."
    )
    suspend: bool = Field(
        default=False,
        description="True stops the training pod (keeping checkpoints) or keeps it from starting; false resumes. The "
        "only field that may change once training has started.",
    )
    backoff_limit: int = Field(
        default=2, ge=0, le=10, description="Failed training pods retried (from the last checkpoint) before failing."
    )
    active_deadline_seconds: int | None = Field(
        default=None, ge=1, description="Fail the job when training has run longer than this, across retries."
    )
    image: str | None = Field(
        default=None, min_length=1, max_length=1024, description="Trainer image; defaults to the operator's setting."
    )
    ttl_seconds_after_finished: int | None = Field(
        default=None, ge=0, description="Delete the TrainingJob this long after it succeeded or failed."
    )

    @model_validator(mode="after")
    def _needs_gpu(self) -> Self:
        # Mirrors the CEL rules above so the operator rejects what the API server would.
        if self.resources.gpus < 1 and (self.method == "qlora" or self.backend == "unsloth"):
            what = "method qlora" if self.method == "qlora" else "backend unsloth"
            raise ValueError(f"{what} needs resources.gpus >= 1")
        if self.backend == "unsloth" and self.resources.world_size() > 1:
            raise ValueError(self.cel_rules[2].message)
        return self


# Once training has started the pod, its checkpoints and its dataset split belong to this spec.
MUTABLE_AFTER_START = ("suspend",)


def _frozen_after_start() -> Rule:
    fields = TrainingJobSpec.model_fields
    checks = []
    for name, info in fields.items():
        if name in MUTABLE_AFTER_START:
            continue
        alias = info.alias or name
        new, old = f"self.spec.{alias}", f"oldSelf.spec.{alias}"
        if info.default is None:
            # Optional: absent on both sides, or equal. (`.?` would be shorter, but the API server cannot bound the
            # cost of optionals and rejects the CRD.)
            checks.append(f"(has({new}) ? has({old}) && {new} == {old} : !has({old}))")
        else:
            checks.append(f"{new} == {old}")
    return Rule(
        "!has(oldSelf.status) || !has(oldSelf.status.startTime) || (" + " && ".join(checks) + ")",
        "spec is immutable once training has started (the trainer ran: status.startTime is set), except "
        "spec.suspend; create a new TrainingJob to train with other settings",
        field_path=".spec",
    )


# A pod of a multi-node job is addressed as <name>-trainer-<index>.<name>-trainer (its hostname and the headless
# Service's name), and both must be DNS-1035 labels of at most 63 characters: 52 leaves room for "-trainer-63".
GANG_NAME_MAX = 52
GANG_NAME = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
GANG_NAME_RULE = Rule(
    f"self.spec.resources.nodes == 1 || (self.metadata.name.matches('{GANG_NAME}') && "
    f"size(self.metadata.name) <= {GANG_NAME_MAX})",
    f"a TrainingJob with resources.nodes above 1 names a headless Service and its pods' hostnames after itself "
    f"(<name>-trainer-<index>.<name>-trainer), so metadata.name must start with a letter, contain only lower-case "
    f"letters, digits and '-' (no '.') and be at most {GANG_NAME_MAX} characters long",
    field_path=".spec.resources.nodes",
)


# -- status ------------------------------------------------------------------------------------------------------
Phase = Literal["Pending", "Validating", "Queued", "Running", "Succeeded", "Failed", "Suspended"]


class Progress(ApiModel):
    """Live progress, pulled from the training pod."""

    step: int | None = Field(default=None, ge=0, description="Optimizer steps done.")
    total_steps: int | None = Field(default=None, ge=0, description="Optimizer steps planned.")
    epoch: float | None = Field(default=None, ge=0, description="Fractional epoch reached.")
    loss: float | None = Field(default=None, description="Training loss of the latest logging window.")
    eval_loss: float | None = Field(default=None, description="Latest loss on the validation split.")
    learning_rate: float | None = Field(default=None, ge=0, description="Current learning rate.")
    tokens_per_second: float | None = Field(default=None, ge=0, description="Recent training throughput.")
    percent: float | None = Field(default=None, ge=0, le=100, description="step / totalSteps, in percent.")
    eta_seconds: int | None = Field(default=None, ge=0, description="Estimated seconds until training ends.")
    eta: str | None = Field(default=None, description="etaSeconds for people, e.g. 4m12s (the ETA column).")
    resumed_from_step: int | None = Field(
        default=None, ge=0, description="Checkpoint step the current training pod resumed from, if it resumed."
    )
    updated_at: datetime | None = Field(default=None, description="When this progress was read from the pod.")


class CheckpointStatus(ApiModel):
    """The newest checkpoint a retry resumes from."""

    step: int | None = Field(default=None, ge=0, description="Step at which it was saved.")
    path: str | None = Field(default=None, description="Its directory on the output volume.")


class DatasetStats(ApiModel):
    """What validation found in the dataset."""

    examples: int | None = Field(default=None, ge=0, description="Valid examples.")
    train_examples: int | None = Field(default=None, ge=0, description="Examples in the training split.")
    validation_examples: int | None = Field(default=None, ge=0, description="Examples in the validation split.")
    rejected: int | None = Field(default=None, ge=0, description="Rows skipped as invalid.")
    tokens: int | None = Field(default=None, ge=0, description="Tokens in the training split.")
    sha256: str | None = Field(default=None, description="SHA-256 of the normalised dataset, for lineage.")


class ValidationSplitStatus(ApiModel):
    """The held-out split the trainer wrote beside the adapter: what a ModelComparison's prompts.fromTrainingJob
    tests on."""

    path: str | None = Field(default=None, description="The file on the output claim, relative to its root.")
    examples: int | None = Field(default=None, ge=0, description="Examples in it.")
    sha256: str | None = Field(default=None, description="SHA-256 of the file; the evaluator checks it.")


class TrainingJobStatus(ApiModel):
    """What the operator observed. Written only by the operator."""

    phase: Phase | None = Field(
        default=None, description="Pending, Validating, Queued, Running, Succeeded, Failed or Suspended."
    )
    conditions: list[Condition] = conditions_field()
    observed_generation: int | None = Field(
        default=None, ge=0, description="metadata.generation of the spec the status reflects."
    )
    progress: Progress | None = Field(default=None, description="Live progress while running.")
    last_checkpoint: CheckpointStatus | None = Field(default=None, description="The newest checkpoint.")
    dataset_stats: DatasetStats | None = Field(default=None, description="Dataset validation results.")
    validation_split: ValidationSplitStatus | None = Field(
        default=None, description="The held-out split, once training succeeded (for ModelComparisons)."
    )
    model_ref: LocalObjectRef | None = Field(default=None, description="The FineTunedModel created on success.")
    job_name: str | None = Field(default=None, description="Name of the batch/v1 Job running the training pod.")
    start_time: datetime | None = Field(
        default=None,
        description="When the trainer first ran in a pod (not when the Job was created: a queued job can still be "
        "edited); from then on the spec is immutable except suspend.",
    )
    completion_time: datetime | None = Field(default=None, description="When the job succeeded or failed.")
    reason: str | None = Field(default=None, description="CamelCase reason for the current phase.")
    message: str | None = Field(default=None, description="Human-readable detail for the current phase.")
    failed_attempts: int | None = Field(default=None, ge=0, description="Training pods that failed so far.")
    metrics: TrainingMetrics | None = Field(default=None, description="Final metrics, once succeeded.")


# -- the kind ----------------------------------------------------------------------------------------------------
class TrainingJob(Resource):
    """Trains a LoRA or QLoRA adapter on a dataset for a base model. The operator validates the data before a GPU
    is spent, runs a training pod that resumes from checkpoints after preemption, shows live progress in status, and
    on success creates a FineTunedModel named spec.output.modelName."""

    kind: Literal["TrainingJob"] = Field(default="TrainingJob", description="TrainingJob.")
    spec: TrainingJobSpec = Field(description="Desired training run.")
    status: TrainingJobStatus = Field(default_factory=TrainingJobStatus, description="Observed state.")

    crd: ClassVar[CrdInfo] = CrdInfo(
        plural="trainingjobs",
        short_names=("tj",),
        columns=(
            PrinterColumn("Phase", ".status.phase", "string", "Lifecycle phase."),
            PrinterColumn("Progress", ".status.progress.percent", "number", "Percent of training steps done."),
            PrinterColumn("Loss", ".status.progress.loss", "number", "Latest training loss (4 decimals)."),
            PrinterColumn("ETA", ".status.progress.eta", "string", "Estimated time until training ends."),
            PrinterColumn("Model", ".status.modelRef.name", "string", "The FineTunedModel registered on success."),
            PrinterColumn("Reason", ".status.reason", "string", "Reason for the current phase.", priority=1),
            AGE_COLUMN,
        ),
        root_rules=(_frozen_after_start(), GANG_NAME_RULE),
    )

    @model_validator(mode="after")
    def _gang_name(self) -> Self:
        # Mirrors GANG_NAME_RULE, so the operator refuses what the API server would.
        name = self.metadata.name
        if self.spec.resources.nodes > 1 and name is not None and (
                len(name) > GANG_NAME_MAX or not re.fullmatch(GANG_NAME, name)):
            raise ValueError(GANG_NAME_RULE.message)
        return self
