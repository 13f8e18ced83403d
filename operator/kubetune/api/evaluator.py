"""The contract between the operator and the evaluator pod of a ModelComparison.

The operator writes an :class:`EvaluatorConfig` as JSON into a ConfigMap mounted at ``/etc/kubetune``; the pod runs
``python -m kubetune.evaluation --config /etc/kubetune/evaluator.json``. API keys are never in the config: it names
the environment variables (filled from Secrets through ``secretKeyRef``) that hold them. While it runs, the pod serves
an :class:`EvaluatorProgress` at ``GET /progress`` (and Prometheus text at ``GET /metrics``) on ``progress.port``. When
it ends, it writes an :class:`EvaluatorResult` (JSON, under 4 KB) to ``terminationMessagePath`` and exits with one of
the ``EXIT_*`` codes.

This module imports only pydantic, the standard library and the API's own models (``Results`` is the shape of
``ModelComparison.status.results``, so the operator copies it as it is).
"""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from .modelcomparison import PrimaryMetric, Results

# -- exit codes: the Job's podFailurePolicy maps them ------------------------------------------------------------
EXIT_SUCCESS = 0
"""Every prompt was answered by both models and scored; the termination message carries the results."""
EXIT_RETRIABLE = 1
"""Anything worth a retry (a crash, SIGTERM; a kill is 137): the next pod resumes from the samples file."""
EXIT_PROMPTS_INVALID = 3
"""The prompts cannot be used (unreadable, a bad line, none left, digest mismatch): retrying cannot help, FailJob."""
EXIT_CONFIG_INVALID = 4
"""The config cannot run (malformed, an API-key variable missing, a samples file written for other prompts):
FailJob."""
EXIT_ENDPOINT_ERRORS = 5
"""More requests failed (after their retries) than ``failures.maxErrorRate`` allows: FailJob, the message names the
first error. Transient blips are absorbed by the retries inside the pod."""
PERMANENT_EXIT_CODES = (EXIT_PROMPTS_INVALID, EXIT_CONFIG_INVALID, EXIT_ENDPOINT_ERRORS)

TERMINATION_MESSAGE_MAX_BYTES = 4096
"""Kubernetes keeps at most 4096 bytes of a container's termination message."""

DEFAULT_CONFIG_PATH = "/etc/kubetune/evaluator.json"
DEFAULT_PROGRESS_PORT = 8080
SAMPLES_FILE = "samples.jsonl"
"""The samples' file name inside ``output.dir``."""

ResultReason = Literal["Completed", "PromptsInvalid", "ConfigInvalid", "EndpointErrors", "EvaluationError",
                       "Interrupted"]
"""``Completed`` on success; ``PromptsInvalid`` (exit 3), ``ConfigInvalid`` (exit 4) and ``EndpointErrors`` (exit 5)
are permanent; ``EvaluationError`` (a crash) and ``Interrupted`` (SIGTERM) exit 1, retriable."""
EvaluatorPhase = Literal["Starting", "Loading", "Running", "Scoring", "Succeeded", "Failed"]
PromptsFormat = Literal["jsonl", "training-split"]


class _Config(BaseModel):
    """camelCase on the wire; unknown keys are a mistake in the builder, so they are rejected."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True, extra="forbid")


class _Report(BaseModel):
    """camelCase on the wire; unknown keys are ignored, so an older operator can read a newer evaluator's report."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True, extra="ignore")


# -- the config ------------------------------------------------------------------------------------------------------
class ComparisonRef(_Config):
    """The ModelComparison this pod evaluates for; recorded in logs and in /metrics."""

    name: str = Field(min_length=1, description="ModelComparison name.")
    namespace: str = Field(default="", description="ModelComparison namespace.")
    uid: str = Field(default="", description="ModelComparison metadata.uid.")


class ModelTarget(_Config):
    """One served model and where to reach it."""

    model: str = Field(min_length=1, description="The served name sent as `model` in every request.")
    urls: list[str] = Field(
        min_length=1,
        description="Base URLs of the OpenAI-compatible server, without /v1: one per Ready pod of a Deployment "
        "(requests are spread over them evenly, prompt i going to urls[i % len]) or the one URL of a Service.",
    )
    api_key_env: str | None = Field(
        default=None,
        min_length=1,
        description="Name of the environment variable holding the API key (filled from a Secret); the key itself "
        "never appears in the config.",
    )

    @model_validator(mode="after")
    def _http_urls(self) -> Self:
        for url in self.urls:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"urls: {url!r} is not an http:// or https:// URL")
        return self


class JudgeTarget(ModelTarget):
    """The judge: a model asked which of two answers is better, constrained to A, B or tie."""

    position_swap: bool = Field(
        default=True, description="Ask twice, answers swapped; a disagreement is a tie (MT-Bench)."
    )


class PromptsConfig(_Config):
    """The prompts file in the pod."""

    path: str = Field(min_length=1, description="A JSON Lines file (mounted from a ConfigMap or a PVC).")
    format: PromptsFormat = Field(
        default="jsonl",
        description="jsonl: {prompt, reference?} or {messages} per line (the reference is the last assistant turn). "
        "training-split: the held-out split a trainer wrote ({messages} or {prompt, completion}).",
    )
    sha256: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{64}$",
        description="Expected SHA-256 of the file (the trainer records its split's); a mismatch is PromptsInvalid.",
    )


class SamplingConfig(_Config):
    """Sent with every request, the same for both models."""

    max_tokens: int = Field(default=256, ge=1)
    temperature: float = Field(default=0.0, ge=0, le=2)
    top_p: float = Field(default=1.0, gt=0, le=1)
    seed: int | None = Field(default=None, ge=0)
    ignore_eos: bool = Field(
        default=False, description="vLLM's ignore_eos: fixed output length, for benchmarks only."
    )


class OutputConfig(_Config):
    """Where samples are kept."""

    dir: str | None = Field(
        default=None,
        description=f"Directory for {SAMPLES_FILE} (appended and fsync'd per sample; a restarted pod resumes from "
        "it). None keeps no samples and cannot resume.",
    )


class VerdictRule(_Config):
    """The parameters of the verdict rule (docs/evaluation.md)."""

    min_samples: int = Field(default=30, ge=1, description="Below this n the verdict is inconclusive.")
    primary_metric: PrimaryMetric = Field(
        default="tokenF1", description="Decides the verdict (and the win rate) when there is no judge."
    )
    bootstrap_resamples: int = Field(default=10000, ge=100, le=1000000, description="Paired bootstrap resamples.")
    seed: int = Field(default=0, ge=0, description="Seed of the bootstrap and of drawing prompts.")


class FailurePolicy(_Config):
    """Retries and the error threshold."""

    max_error_rate: float = Field(
        default=0.05, ge=0, le=1, description="Share of a model's requests that may fail after retries."
    )
    retries: int = Field(default=3, ge=0, le=20, description="Retries per request after the first attempt.")
    backoff_seconds: float = Field(default=0.5, gt=0, le=60, description="First retry delay; doubles each time.")
    request_timeout_seconds: float = Field(default=300, gt=0, description="Time one request may take.")


class ProgressSettings(_Config):
    """The endpoint the operator polls: /progress (JSON), /metrics (Prometheus), /healthz."""

    port: int = Field(default=DEFAULT_PROGRESS_PORT, ge=0, le=65535, description="Port; 0 picks a free one.")
    host: str | None = Field(
        default=None, description="Address to bind; default: $POD_IP if set, else 0.0.0.0."
    )
    linger_seconds: float = Field(
        default=0, ge=0, le=600,
        description="After the evaluation ends, keep serving until a reader has fetched every sample from /samples "
        "(or this many seconds), so the operator's mirror gets them all.",
    )


class SamplesPage(_Report):
    """``GET /samples?since=<index>``: the samples recorded at or after ``index``, oldest first. Each is a record of
    the samples file with its ``index`` (its position in the file, the same across pods that resumed)."""

    samples: list[dict[str, Any]] = Field(default_factory=list)
    total: int = Field(default=0, description="Samples recorded so far.")


class EvaluatorConfig(_Config):
    """Everything the evaluator pod needs, written by the operator to ``/etc/kubetune/evaluator.json``."""

    comparison: ComparisonRef
    baseline: ModelTarget
    candidate: ModelTarget
    judge: JudgeTarget | None = None
    prompts: PromptsConfig
    sampling: SamplingConfig = Field(default_factory=SamplingConfig)
    samples: int = Field(default=200, ge=1, description="Prompts drawn (at most those available).")
    concurrency: int = Field(default=8, ge=1, description="Requests in flight per model.")
    output: OutputConfig = Field(default_factory=OutputConfig)
    verdict: VerdictRule = Field(default_factory=VerdictRule)
    failures: FailurePolicy = Field(default_factory=FailurePolicy)
    progress: ProgressSettings = Field(default_factory=ProgressSettings)
    termination_message_path: str = Field(
        default="/dev/termination-log", description="Where the EvaluatorResult JSON is written at exit."
    )


# -- what the pod reports --------------------------------------------------------------------------------------------
class ModelProgress(_Report):
    """Running figures of one model over the samples done so far. Null until known."""

    completed: int = 0
    errors: int = Field(default=0, description="Requests that failed after their retries.")
    ttft_p50_ms: float | None = None
    latency_p50_ms: float | None = None
    output_tokens_per_second: float | None = None
    exact_match: float | None = None
    token_f1: float | None = None
    rouge_l: float | None = None


class EvaluatorProgress(_Report):
    """``GET /progress`` on the evaluator pod."""

    phase: EvaluatorPhase = "Starting"
    done: int = Field(default=0, description="Prompts answered by both models (and judged), resumed ones included.")
    total: int | None = Field(default=None, description="Prompts to answer.")
    in_flight: int = Field(default=0, description="Requests in flight, both models and the judge together.")
    errors: int = Field(default=0, description="Failed request attempts, retried or not.")
    resumed: int | None = Field(default=None, description="Samples found on disk when this pod started.")
    percent: float | None = None
    baseline: ModelProgress = Field(default_factory=ModelProgress)
    candidate: ModelProgress = Field(default_factory=ModelProgress)
    win_rate: float | None = Field(default=None, description="Running adjusted win rate of the candidate.")
    updated_at: str | None = Field(default=None, description="RFC 3339 time of the last update.")


class EvaluatorResult(_Report):
    """The termination message: JSON under 4 KB, written on success and on failure."""

    phase: Literal["Succeeded", "Failed"]
    reason: ResultReason
    message: str = ""
    results: Results | None = Field(default=None, description="status.results of the ModelComparison, as it is.")
    samples_file: str | None = Field(default=None, description="The samples file in the pod, when kept.")
    resumed: int | None = Field(default=None, description="Samples this pod found on disk and did not redo.")
    first_error: str | None = Field(default=None, description="The first request error, keys redacted.")
