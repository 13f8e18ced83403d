"""ModelComparison: A/B test two served models on the same prompts, for quality and serving performance."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal, Self

from pydantic import Field, StringConstraints, model_validator

from .common import (
    Condition,
    ConfigMapKeyRef,
    DnsSubdomain,
    LocalObjectRef,
    Port,
    PvcSource,
    SecretKeyRef,
    conditions_field,
)
from .resource import AGE_COLUMN, CrdInfo, PrinterColumn, Resource
from .schema import ApiModel, Rule, immutable

INLINE_PROMPTS_MAX = 200
ModelId = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=r"^[^\s]+$")]


class Endpoint(ApiModel):
    """An OpenAI-compatible server in the same namespace: exactly one of service or deployment."""

    one_of = ("service", "deployment")

    service: DnsSubdomain | None = Field(default=None, description="A Service in front of the server.")
    deployment: DnsSubdomain | None = Field(
        default=None, description="A Deployment whose ready pods are called directly, spread evenly."
    )
    port: Port = Field(default=8000, description="Port of the OpenAI-compatible API.")
    api_key_secret_ref: SecretKeyRef | None = Field(
        default=None, description="Secret key holding the API key, sent as a bearer token."
    )


class ComparedModel(ApiModel):
    """One side of the comparison: exactly one of servedName or fineTunedModelRef."""

    one_of = ("served_name", "fine_tuned_model_ref")

    served_name: ModelId | None = Field(
        default=None, description="A model name the endpoint serves (a base model or any adapter)."
    )
    fine_tuned_model_ref: LocalObjectRef | None = Field(
        default=None, description="A FineTunedModel in the same namespace; its servedName is used."
    )
    endpoint: Endpoint | None = Field(
        default=None, description="Where this model is served, when not at spec.endpoint."
    )


class PromptExample(ApiModel):
    """One prompt, with an optional reference answer for exactMatch and rougeL."""

    prompt: str = Field(min_length=1, max_length=8192, description="The user message sent to both models.")
    reference: str | None = Field(default=None, max_length=8192, description="The expected answer, if known.")


class PromptSource(ApiModel):
    """Where prompts come from: exactly one of fromTrainingJob, inline, configMap or pvc."""

    one_of = ("from_training_job", "inline", "config_map", "pvc")

    from_training_job: LocalObjectRef | None = Field(
        default=None, description="The validation split of a TrainingJob (prompts the candidate has not trained on)."
    )
    inline: list[PromptExample] | None = Field(
        default=None,
        min_length=1,
        max_length=INLINE_PROMPTS_MAX,
        description=f"Prompts written in the manifest (at most {INLINE_PROMPTS_MAX}).",
    )
    config_map: ConfigMapKeyRef | None = Field(
        default=None, description="A ConfigMap key holding JSON Lines of {prompt, reference} or {messages}."
    )
    pvc: PvcSource | None = Field(default=None, description="A JSON Lines file on a PersistentVolumeClaim.")


class Sampling(ApiModel):
    """Sampling parameters sent with every request, the same for both models."""

    max_tokens: int = Field(default=256, ge=1, le=32768, description="Most tokens generated per answer.")
    temperature: float = Field(default=0.0, ge=0, le=2, description="Sampling temperature (0 to 2; 0 is greedy).")
    top_p: float = Field(default=1.0, gt=0, le=1, description="Nucleus sampling mass (greater than 0, at most 1).")
    seed: int | None = Field(default=None, ge=0, description="Sampling seed, for repeatable answers.")


class Judge(ApiModel):
    """An LLM that picks the better of two answers."""

    endpoint: Endpoint = Field(description="Where the judge model is served.")
    model: ModelId = Field(description="Model name the judge endpoint serves.")
    position_swap: bool = Field(
        default=True,
        description="Ask twice with the answers swapped and count a win only when both verdicts agree, which "
        "cancels the judge's position bias.",
    )


class ModelComparisonSpec(ApiModel):
    """What to compare, on which prompts, and how. Immutable: create a new ModelComparison to compare again."""

    cel_rules = (
        Rule(
            "has(self.baseline.endpoint) || has(self.candidate.endpoint) || !("
            "(has(self.baseline.servedName) && has(self.candidate.servedName) && "
            "self.baseline.servedName == self.candidate.servedName) || "
            "(has(self.baseline.fineTunedModelRef) && has(self.candidate.fineTunedModelRef) && "
            "self.baseline.fineTunedModelRef.name == self.candidate.fineTunedModelRef.name))",
            "candidate must differ from baseline: name another model, or set baseline.endpoint or "
            "candidate.endpoint to compare the same model on two servers",
            field_path=".candidate",
        ),
        Rule(
            "has(self.endpoint) || (has(self.baseline.endpoint) && has(self.candidate.endpoint))",
            "endpoint is required unless both baseline.endpoint and candidate.endpoint are set",
            reason="FieldValueRequired",
        ),
    )

    baseline: ComparedModel = Field(description="The model to beat.")
    candidate: ComparedModel = Field(description="The model under test.")
    endpoint: Endpoint | None = Field(
        default=None, description="Where both models are served (vLLM serves a base and its adapters together)."
    )
    prompts: PromptSource = Field(description="The prompts sent to both models.")
    sampling: Sampling = Field(default_factory=Sampling, description="Sampling parameters.")
    judge: Judge | None = Field(default=None, description="Optional LLM judge for the win rate.")
    samples: int = Field(default=200, ge=1, le=100000, description="Prompts drawn (at most those available).")
    concurrency: int = Field(default=8, ge=1, le=512, description="Requests in flight per model.")
    image: str | None = Field(
        default=None, min_length=1, max_length=1024, description="Evaluator image; defaults to the operator's setting."
    )

    @model_validator(mode="after")
    def _cross_checks(self) -> Self:
        # Mirrors the CEL rules above so the operator rejects what the API server would.
        same_model = (self.baseline.served_name, self.baseline.fine_tuned_model_ref) == (
            self.candidate.served_name,
            self.candidate.fine_tuned_model_ref,
        )
        if same_model and self.baseline.endpoint is None and self.candidate.endpoint is None:
            raise ValueError(
                "candidate must differ from baseline: name another model, or set baseline.endpoint or "
                "candidate.endpoint to compare the same model on two servers"
            )
        if self.endpoint is None and (self.baseline.endpoint is None or self.candidate.endpoint is None):
            raise ValueError("endpoint is required unless both baseline.endpoint and candidate.endpoint are set")
        return self


# -- status ------------------------------------------------------------------------------------------------------
Phase = Literal["Pending", "Running", "Succeeded", "Failed"]
Verdict = Literal["candidate", "baseline", "inconclusive"]


class ModelResults(ApiModel):
    """Serving and reference metrics of one model."""

    latency_p50_ms: float | None = Field(default=None, ge=0, description="Median request latency.")
    latency_p95_ms: float | None = Field(default=None, ge=0, description="95th percentile request latency.")
    ttft_p50_ms: float | None = Field(default=None, ge=0, description="Median time to first token.")
    ttft_p95_ms: float | None = Field(default=None, ge=0, description="95th percentile time to first token.")
    output_tokens_per_second: float | None = Field(default=None, ge=0, description="Generated tokens per second.")
    requests_per_second: float | None = Field(default=None, ge=0, description="Completed requests per second.")
    errors: int | None = Field(default=None, ge=0, description="Failed requests.")
    exact_match: float | None = Field(
        default=None, ge=0, le=1, description="Share of answers equal to the reference."
    )
    rouge_l: float | None = Field(default=None, ge=0, le=1, description="Mean ROUGE-L F1 against the reference.")


class WinRate(ApiModel):
    """Pairwise preference between the two models' answers."""

    candidate: float | None = Field(default=None, ge=0, le=1, description="Share of pairs the candidate won.")
    baseline: float | None = Field(default=None, ge=0, le=1, description="Share of pairs the baseline won.")
    ties: int | None = Field(default=None, ge=0, description="Pairs judged equal.")
    n: int | None = Field(default=None, ge=0, description="Pairs compared.")
    ci95: list[float] | None = Field(
        default=None, min_length=2, max_length=2, description="95% confidence interval [low, high] of candidate."
    )


class Results(ApiModel):
    """The outcome of the comparison."""

    baseline: ModelResults | None = Field(default=None, description="Metrics of the baseline.")
    candidate: ModelResults | None = Field(default=None, description="Metrics of the candidate.")
    win_rate: WinRate | None = Field(default=None, description="Pairwise win rate.")
    verdict: Verdict | None = Field(
        default=None,
        description="candidate or baseline when the confidence interval excludes an even split, else inconclusive.",
    )


class ModelComparisonStatus(ApiModel):
    """What the operator observed. Written only by the operator."""

    phase: Phase | None = Field(default=None, description="Pending, Running, Succeeded or Failed.")
    conditions: list[Condition] = conditions_field()
    observed_generation: int | None = Field(
        default=None, ge=0, description="metadata.generation of the spec the status reflects."
    )
    results: Results | None = Field(default=None, description="Results, once succeeded.")
    job_name: str | None = Field(default=None, description="Name of the batch/v1 Job running the evaluator.")
    start_time: datetime | None = Field(default=None, description="When the evaluator started.")
    completion_time: datetime | None = Field(default=None, description="When the comparison succeeded or failed.")
    reason: str | None = Field(default=None, description="CamelCase reason for the current phase.")
    message: str | None = Field(default=None, description="Human-readable detail for the current phase.")


class ModelComparison(Resource):
    """A/B test of two served models on the same prompts. An evaluator pod sends every prompt to both, measures
    serving performance (latency, time to first token, tokens/s) and quality (reference metrics, and a win rate with
    a confidence interval from an optional LLM judge with position swap), and records a verdict."""

    kind: Literal["ModelComparison"] = Field(default="ModelComparison", description="ModelComparison.")
    spec: ModelComparisonSpec = Field(
        description="What to compare. Immutable.",
        json_schema_extra=immutable("spec", "create a new ModelComparison to compare again"),
    )
    status: ModelComparisonStatus = Field(default_factory=ModelComparisonStatus, description="Observed state.")

    crd: ClassVar[CrdInfo] = CrdInfo(
        plural="modelcomparisons",
        short_names=("mc",),
        columns=(
            PrinterColumn("Phase", ".status.phase", "string", "Lifecycle phase."),
            PrinterColumn("Verdict", ".status.results.verdict", "string", "candidate, baseline or inconclusive."),
            PrinterColumn(
                "Win rate", ".status.results.winRate.candidate", "number", "Share of pairs the candidate won."
            ),
            PrinterColumn("Samples", ".status.results.winRate.n", "integer", "Pairs compared.", priority=1),
            AGE_COLUMN,
        ),
    )
