"""The contract between the operator and the training pod.

The operator writes a :class:`TrainerConfig` as JSON to ``/etc/kubetune/job.json``; the pod runs
``python -m kubetune.training --config /etc/kubetune/job.json``. While it trains, the pod serves a :class:`Progress`
at ``GET /progress``, every logged step as a :class:`TrainingHistory` at ``GET /history?since=<step>`` (and
Prometheus text at ``GET /metrics``) on ``progress.port``. When it ends, it writes a
:class:`TrainerResult` (JSON, under 4 KB) to ``terminationMessagePath`` and exits with one of the ``EXIT_*`` codes.

This module imports only pydantic and the standard library, so the training image and the operator can both use it
without pulling in each other's dependencies.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

# -- exit codes: the Job's podFailurePolicy maps them ------------------------------------------------------------
EXIT_SUCCESS = 0
"""The adapter was written and the termination message says ``Succeeded``."""
EXIT_RETRIABLE = 1
"""Any failure worth a retry (a crash, an unreachable database, an OOM kill is 137): the next pod resumes from the
newest checkpoint."""
EXIT_DATASET_INVALID = 3
"""The dataset failed validation (too many bad rows, or no valid row): retrying cannot help, so FailJob."""
EXIT_CONFIG_INVALID = 4
"""The job config cannot run (malformed job.json, QLoRA without a GPU, Unsloth not installed): FailJob."""
EXIT_GANG_STOPPED = 5
"""Distributed training only: another process of the run received SIGTERM (its pod was preempted, evicted or
suspended), so every process saved the shared checkpoint at the same step and stopped. Not this pod's fault: the
podFailurePolicy ignores it, as it ignores the disrupted pod itself, so a preemption costs no retry."""

TERMINATION_MESSAGE_MAX_BYTES = 4096
"""Kubernetes keeps at most 4096 bytes of a container's termination message."""

DEFAULT_CONFIG_PATH = "/etc/kubetune/job.json"
VALIDATION_SPLIT_FILE = "validation.jsonl"
"""The held-out split, written beside ``output.dir`` (``<run dir>/validation.jsonl`` next to ``<run dir>/adapter``):
one normalised example per line, the prompts a ModelComparison's ``fromTrainingJob`` tests on."""
DEFAULT_DATABASE_URL_ENV = "KUBETUNE_DATABASE_URL"
DEFAULT_HUB_TOKEN_ENV = "HF_TOKEN"
DEFAULT_PROGRESS_PORT = 8080

DatasetFormat = Literal["openai", "chatml", "alpaca", "sharegpt", "prompt-completion", "text"]
LrScheduler = Literal[
    "linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup", "inverse_sqrt"
]
ResultReason = Literal[
    "Completed", "DatasetInvalid", "ConfigInvalid", "DatasetUnavailable", "BaseModelUnavailable", "TrainingError",
    "Preempted",
]
"""``Completed`` on success; ``DatasetInvalid`` (exit 3) and ``ConfigInvalid`` (exit 4) are permanent;
``DatasetUnavailable`` (the source could not be read: network, database), ``BaseModelUnavailable`` (the Hub could not
be reached or answered 5xx), ``TrainingError`` and ``Preempted`` (SIGTERM: a checkpoint was saved and the run stopped)
exit 1, retriable."""
TrainerPhase = Literal["Starting", "Validating", "Loading", "Training", "Saving", "Succeeded", "Failed"]


class _Config(BaseModel):
    """camelCase on the wire; unknown keys are a mistake in the builder, so they are rejected."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True, extra="forbid")


class _Report(BaseModel):
    """camelCase on the wire; unknown keys are ignored, so an older operator can read a newer trainer's report."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True, extra="ignore")


# -- the config ------------------------------------------------------------------------------------------------------
class JobRef(_Config):
    """The TrainingJob this pod trains for; recorded in the manifest and in logs."""

    name: str = Field(min_length=1, description="TrainingJob name.")
    namespace: str = Field(default="", description="TrainingJob namespace.")
    uid: str = Field(default="", description="TrainingJob metadata.uid.")


class HubModel(_Config):
    """A model repository on the Hugging Face Hub (or the endpoint ``HF_ENDPOINT`` names), downloaded at start."""

    repo_id: str = Field(min_length=1, description="<org>/<repo>.")
    revision: str | None = Field(
        default=None, min_length=1, description="Branch, tag or commit sha; None means the default branch (main)."
    )
    token_env: str | None = Field(
        default=None,
        min_length=1,
        description="Name of the environment variable holding the access token (filled from a Secret; the token "
        "itself never appears in the config). None: download without a token.",
    )


class BaseModelRef(_Config):
    """The base model: its served name and where its weights are in the pod."""

    name: str = Field(
        min_length=1,
        description="The base's served name (what vLLM calls it); written to the adapter's "
        "adapter_config.json as base_model_name_or_path.",
    )
    path: str = Field(
        min_length=1,
        description="Local directory in the pod with config.json, weights and tokenizer; where ``hub`` is set, the "
        "trainer downloads the snapshot into it before anything loads the model.",
    )
    hub: HubModel | None = Field(default=None, description="Download the base from the Hub into ``path`` first.")


class PostgresQuery(_Config):
    """Rows of a PostgreSQL query. It runs in a READ ONLY transaction with ``SET LOCAL statement_timeout`` and
    streams through a server-side cursor."""

    database_url_env: str = Field(
        default=DEFAULT_DATABASE_URL_ENV,
        min_length=1,
        description="Name of the environment variable holding the database URL (filled from a Secret; the URL "
        "itself never appears in the config).",
    )
    query: str = Field(min_length=1, description="The SELECT whose rows become examples.")
    mapping: dict[str, str] = Field(
        default_factory=dict,
        description="Format field -> result column (e.g. prompt -> question). A field not mapped is read from the "
        "column of the same name.",
    )
    statement_timeout_seconds: int = Field(default=300, ge=1, description="Server-side statement timeout.")
    fetch_size: int = Field(default=1000, ge=1, description="Rows per round trip from the server-side cursor.")


class DatasetConfig(_Config):
    """The training data: its format, exactly one source, and how it is split and policed."""

    format: DatasetFormat = Field(default="openai", description="Row format; see docs/training.md.")
    path: str | None = Field(
        default=None,
        description="A JSON Lines file in the pod. Inline rows, ConfigMaps and PVC files are all mounted or written "
        "here by the operator.",
    )
    uri: str | None = Field(default=None, description="An http(s) URL of a JSON Lines file, streamed.")
    postgres: PostgresQuery | None = Field(default=None, description="A PostgreSQL query.")
    validation_split: float = Field(
        default=0.05, ge=0, le=0.5, description="Share of examples held out for evaluation (hash-based split)."
    )
    max_rejected_fraction: float = Field(
        default=0.01,
        ge=0,
        le=1,
        description="Invalid rows are skipped and counted; the run fails with exit 3 when more than this share of "
        "rows is invalid.",
    )
    seed: int = Field(default=42, ge=0, description="Salt of the train/validation split hash.")

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        sources = [s for s in (self.path, self.uri, self.postgres) if s is not None]
        if len(sources) != 1:
            raise ValueError("exactly one of path, uri or postgres must be set")
        if self.uri is not None and not self.uri.startswith(("http://", "https://")):
            raise ValueError("uri must be an http:// or https:// URL")
        return self


class LoraSettings(_Config):
    """The LoRA adapter's shape."""

    r: int = Field(default=16, ge=1, le=256, description="Rank.")
    alpha: int = Field(default=32, ge=1, description="Scaling factor.")
    dropout: float = Field(default=0.05, ge=0, le=0.5, description="Dropout on the LoRA layers.")
    target_modules: Literal["all-linear"] | list[str] = Field(
        default="all-linear", description="all-linear or a list of module names such as [q_proj, v_proj]."
    )


class Hyperparameters(_Config):
    """Optimisation settings, passed to TRL's SFTConfig."""

    epochs: float = Field(default=3, gt=0, description="Passes over the training split.")
    max_steps: int | None = Field(default=None, ge=1, description="Stop after this many optimizer steps.")
    batch_size: int = Field(default=4, ge=1, description="Examples per device per step.")
    gradient_accumulation_steps: int = Field(default=1, ge=1, description="Micro-batches per optimizer step.")
    learning_rate: float = Field(default=2e-4, gt=0, le=1, description="Peak learning rate.")
    max_seq_length: int = Field(default=2048, ge=16, description="Longer examples are rejected, not truncated.")
    warmup_ratio: float = Field(default=0.03, ge=0, lt=1, description="Share of steps spent warming up.")
    lr_scheduler: LrScheduler = Field(default="cosine", description="Learning-rate schedule after warmup.")
    seed: int = Field(default=42, ge=0, description="Seed for initialisation and shuffling.")


class CheckpointSettings(_Config):
    """Checkpoints under ``output.checkpointsDir``; a restarted pod resumes from the newest valid one."""

    every_steps: int = Field(default=100, ge=1, description="Save a checkpoint every this many optimizer steps.")
    keep: int = Field(default=2, ge=1, description="Valid checkpoints kept; older ones are deleted.")


class OutputSettings(_Config):
    """Where the adapter and the checkpoints go (both on the output volume)."""

    dir: str = Field(min_length=1, description="The final adapter directory; written atomically.")
    checkpoints_dir: str = Field(min_length=1, description="Holds checkpoint-<step> directories.")


class ProgressSettings(_Config):
    """The progress endpoint the operator polls: /progress (JSON), /metrics (Prometheus), /healthz."""

    port: int = Field(default=DEFAULT_PROGRESS_PORT, ge=0, le=65535, description="Port; 0 picks a free one.")
    host: str | None = Field(
        default=None,
        description="Address to bind; default: $POD_IP if set, else 0.0.0.0. On the test node pods share the host "
        "network with one loopback IP each, so binding the pod IP matters.",
    )
    log_every_steps: int = Field(
        default=10, ge=1, description="Loss and learning rate are read (and published) every this many steps."
    )
    linger_seconds: float = Field(
        default=0,
        ge=0,
        le=600,
        description="After training ends, keep serving until a reader has fetched /history once more (or this many "
        "seconds have passed), so the last steps reach the mirror before the pod exits. 0: exit at once.",
    )


class TrainerConfig(_Config):
    """Everything the training pod needs, written by the operator to ``/etc/kubetune/job.json``."""

    job: JobRef
    base_model: BaseModelRef
    dataset: DatasetConfig
    method: Literal["lora", "qlora"] = Field(default="lora", description="qlora needs a CUDA GPU.")
    backend: Literal["auto", "unsloth", "huggingface"] = Field(
        default="auto", description="auto: unsloth when a CUDA GPU and unsloth are present, else huggingface."
    )
    lora: LoraSettings = Field(default_factory=LoraSettings)
    hyperparameters: Hyperparameters = Field(default_factory=Hyperparameters)
    checkpoint: CheckpointSettings = Field(default_factory=CheckpointSettings)
    output: OutputSettings
    progress: ProgressSettings = Field(default_factory=ProgressSettings)
    termination_message_path: str = Field(
        default="/dev/termination-log", description="Where the TrainerResult JSON is written at exit."
    )


# -- what the pod reports --------------------------------------------------------------------------------------------
class Progress(_Report):
    """``GET /progress`` on the training pod. Fields are null until known."""

    phase: TrainerPhase = "Starting"
    step: int = 0
    total_steps: int | None = None
    epoch: float | None = None
    loss: float | None = None
    eval_loss: float | None = None
    learning_rate: float | None = None
    tokens_per_second: float | None = None
    percent: float | None = None
    eta_seconds: int | None = None
    checkpoint_step: int | None = Field(default=None, description="Step of the newest valid checkpoint.")
    resumed_from_step: int | None = Field(default=None, description="Step this pod resumed from, if it did.")
    updated_at: str | None = Field(default=None, description="RFC 3339 time of the last update.")


class HistoryPoint(_Report):
    """One logged step of the loss curve. A step logged twice (a training log, then an evaluation at the same step)
    is one point; fields are null until known."""

    step: int = Field(ge=0, description="Optimizer step the log was written at.")
    epoch: float | None = Field(default=None, description="Fractional epoch at that step.")
    loss: float | None = Field(default=None, description="Training loss of the logging window ending at this step.")
    eval_loss: float | None = Field(default=None, description="Loss on the validation split, if evaluated here.")
    learning_rate: float | None = Field(default=None, description="Learning rate at this step.")
    tokens_per_second: float | None = Field(default=None, description="Throughput of this pod up to this step.")
    time: str | None = Field(
        default=None,
        description="RFC 3339 time (with milliseconds) the step was logged; null for steps a resumed pod restored "
        "from its checkpoint.",
    )


class TrainingHistory(_Report):
    """``GET /history?since=<step>`` on the training pod: every logged step at or after ``since`` (inclusive, so the
    newest step is sent again and an evaluation that completed it since is not missed), oldest first. A pod that
    resumed from a checkpoint also serves the steps its checkpoint recorded."""

    points: list[HistoryPoint] = Field(default_factory=list)


class ResultMetrics(_Report):
    """Final training metrics. ``tokensPerSecond`` counts non-padding tokens over this pod's training time."""

    train_loss: float | None = None
    eval_loss: float | None = None
    steps: int | None = None
    epochs: float | None = None
    tokens_per_second: float | None = None
    runtime_seconds: float | None = None


class ResultDatasetStats(_Report):
    """What validation found. ``sha256`` is the digest of the normalised accepted examples (see docs/training.md)."""

    examples: int | None = None
    train_examples: int | None = None
    validation_examples: int | None = None
    rejected: int | None = None
    tokens: int | None = None
    sha256: str | None = None


class ResultAdapter(_Report):
    """The adapter written to ``output.dir``."""

    path: str
    sha256: str = Field(description="SHA-256 of adapter_model.safetensors.")
    size_bytes: int
    rank: int
    alpha: int


class ResultValidationSplit(_Report):
    """The held-out split written beside the adapter (``VALIDATION_SPLIT_FILE``), never trained on."""

    path: str = Field(description="The file in the pod: <run dir>/validation.jsonl.")
    examples: int = Field(description="Examples in it (lines).")
    sha256: str = Field(description="SHA-256 of the file's bytes; the evaluator checks it before testing.")


class TrainerResult(_Report):
    """The termination message: JSON under 4 KB, written on success and on failure."""

    phase: Literal["Succeeded", "Failed"]
    reason: ResultReason
    message: str = ""
    metrics: ResultMetrics | None = None
    dataset_stats: ResultDatasetStats | None = None
    adapter: ResultAdapter | None = None
    validation_split: ResultValidationSplit | None = None
    resumed_from_step: int | None = None
    errors: list[str] = Field(default_factory=list, description='The first few "line N: field: problem" errors.')
