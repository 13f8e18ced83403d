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
    PvcStorage,
    SecretKeyRef,
    conditions_field,
)
from .resource import AGE_COLUMN, CrdInfo, PrinterColumn, Resource
from .schema import ApiModel, Rule, immutable

INLINE_PROMPTS_MAX = 200
PrimaryMetric = Literal["exactMatch", "tokenF1", "rougeL"]
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
    """One prompt, with an optional reference answer for exactMatch, tokenF1 and rougeL."""

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
        default=None,
        description="A ConfigMap key holding JSON Lines of {prompt, reference} or {messages} (the reference is the "
        "last assistant turn).",
    )
    pvc: PvcSource | None = Field(
        default=None, description="A JSON Lines file on a PersistentVolumeClaim, in the same formats."
    )


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


class SamplesOutput(ApiModel):
    """Where every sample is kept as JSON Lines: prompt, reference, both answers, judge verdicts, metrics and
    latencies. A retried evaluator resumes from it."""

    pvc: PvcStorage = Field(
        description="A PersistentVolumeClaim the evaluator mounts read-write; samples go to "
        "<path>/<comparison name>-<uid8>/samples.jsonl."
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
    min_samples: int = Field(
        default=30,
        ge=1,
        le=100000,
        description="Below this many compared pairs the verdict is inconclusive (TooFewSamples), whatever the "
        "intervals say.",
    )
    primary_metric: PrimaryMetric = Field(
        default="tokenF1",
        description="The reference metric that decides the verdict when there is no judge: exactMatch, tokenF1 or "
        "rougeL.",
    )
    max_error_rate: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Share of requests (per model, after retries) that may fail; above it the comparison fails with "
        "EndpointErrors naming the first error.",
    )
    request_timeout_seconds: int = Field(
        default=300, ge=1, le=3600, description="Time one streamed request may take before it is retried."
    )
    output: SamplesOutput | None = Field(
        default=None, description="Keep every sample as JSON Lines on a PersistentVolumeClaim (and resume from it)."
    )
    backoff_limit: int = Field(
        default=3, ge=0, le=20, description="Evaluator pods retried after a crash or kill (each resumes)."
    )
    active_deadline_seconds: int | None = Field(
        default=None, ge=1, description="Fail the comparison when the evaluator runs longer than this."
    )
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
VerdictReason = Literal[
    "CandidateBetter", "BaselineBetter", "NoSignificantDifference", "TooFewSamples", "NoQualitySignal"
]
WinRateBasis = Literal["judge", "exactMatch", "tokenF1", "rougeL"]


class Percentiles(ApiModel):
    """Mean and percentiles of one serving metric over the completed requests, in milliseconds."""

    mean: float | None = Field(default=None, ge=0, description="Arithmetic mean.")
    p50: float | None = Field(default=None, ge=0, description="Median.")
    p95: float | None = Field(default=None, ge=0, description="95th percentile.")
    p99: float | None = Field(default=None, ge=0, description="99th percentile.")


class ModelResults(ApiModel):
    """Serving and reference metrics of one model. Serving metrics follow `vllm bench serve`'s definitions (see
    docs/evaluation.md)."""

    completed: int | None = Field(default=None, ge=0, description="Requests that returned an answer.")
    errors: int | None = Field(
        default=None, ge=0, description="Requests that failed after their retries (vllm bench serve's failed)."
    )
    ttft_ms: Percentiles | None = Field(
        default=None, description="Time to first token: first streamed chunk minus send time (queueing and prefill)."
    )
    tpot_ms: Percentiles | None = Field(
        default=None, description="Time per output token after the first: (latency - TTFT) / (tokens - 1)."
    )
    itl_ms: Percentiles | None = Field(default=None, description="Inter-token latency: gaps between streamed chunks.")
    latency_ms: Percentiles | None = Field(
        default=None, description="End-to-end latency (vllm bench serve's e2el): last streamed chunk minus send time."
    )
    output_tokens_per_second: float | None = Field(
        default=None, ge=0, description="Output tokens of completed requests per second of the evaluation."
    )
    requests_per_second: float | None = Field(
        default=None, ge=0, description="Completed requests per second of the evaluation."
    )
    mean_output_tokens: float | None = Field(default=None, ge=0, description="Mean output length, in tokens.")
    exact_match: float | None = Field(
        default=None, ge=0, le=1, description="Share of answers equal to the reference after normalisation."
    )
    token_f1: float | None = Field(
        default=None, ge=0, le=1, description="Mean token-overlap F1 against the reference (SQuAD definition)."
    )
    rouge_l: float | None = Field(default=None, ge=0, le=1, description="Mean ROUGE-L F1 against the reference.")


class Difference(ApiModel):
    """The mean of candidate-minus-baseline over the prompts both answered, with a paired bootstrap 95% CI."""

    mean: float | None = Field(default=None, description="Mean paired difference, candidate minus baseline.")
    ci95: list[float] | None = Field(
        default=None, min_length=2, max_length=2, description="95% bootstrap confidence interval [low, high]."
    )


class Differences(ApiModel):
    """Candidate minus baseline, per metric: positive means the candidate scored higher (or was slower)."""

    exact_match: Difference | None = Field(default=None, description="Exact match (0 or 1 per prompt).")
    token_f1: Difference | None = Field(default=None, description="Token F1.")
    rouge_l: Difference | None = Field(default=None, description="ROUGE-L F1.")
    ttft_ms: Difference | None = Field(default=None, description="Time to first token.")
    tpot_ms: Difference | None = Field(default=None, description="Time per output token.")
    latency_ms: Difference | None = Field(default=None, description="End-to-end latency.")
    output_tokens: Difference | None = Field(default=None, description="Output length in tokens.")


class WinRate(ApiModel):
    """Pairwise preference between the two models' answers: by the judge when there is one, else by the primary
    reference metric."""

    candidate: float | None = Field(
        default=None, ge=0, le=1, description="(candidate wins + ties / 2) / n, the adjusted win rate."
    )
    baseline: float | None = Field(default=None, ge=0, le=1, description="(baseline wins + ties / 2) / n.")
    wins: int | None = Field(default=None, ge=0, description="Pairs the candidate won.")
    losses: int | None = Field(default=None, ge=0, description="Pairs the baseline won.")
    ties: int | None = Field(default=None, ge=0, description="Pairs judged equal (with a judge: inconsistent too).")
    n: int | None = Field(default=None, ge=0, description="Pairs compared.")
    ci95: list[float] | None = Field(
        default=None, min_length=2, max_length=2, description="Wilson 95% confidence interval [low, high] of candidate."
    )
    basis: WinRateBasis | None = Field(
        default=None, description="What decided each pair: judge, or a reference metric (exactMatch, tokenF1, rougeL)."
    )


class JudgeResults(ApiModel):
    """How the judge behaved."""

    calls: int | None = Field(default=None, ge=0, description="Judge requests answered.")
    errors: int | None = Field(default=None, ge=0, description="Judge requests that failed after their retries.")
    inconsistent: int | None = Field(
        default=None, ge=0, description="Pairs whose two verdicts (answers swapped) disagreed; counted as ties."
    )
    inconsistency_rate: float | None = Field(
        default=None, ge=0, le=1, description="inconsistent / pairs judged in both orders."
    )


class Results(ApiModel):
    """The outcome of the comparison."""

    baseline: ModelResults | None = Field(default=None, description="Metrics of the baseline.")
    candidate: ModelResults | None = Field(default=None, description="Metrics of the candidate.")
    differences: Differences | None = Field(default=None, description="Paired candidate-minus-baseline differences.")
    win_rate: WinRate | None = Field(default=None, description="Pairwise win rate.")
    judge: JudgeResults | None = Field(default=None, description="The judge's calls and consistency, when judged.")
    answer_length_ratio: float | None = Field(
        default=None,
        ge=0,
        description="Mean candidate answer length over mean baseline answer length, in tokens: a judge may favour "
        "the longer answer.",
    )
    primary_metric: PrimaryMetric | None = Field(
        default=None, description="The reference metric the verdict used when there was no judge."
    )
    samples: int | None = Field(default=None, ge=0, description="Prompts sent to both models.")
    samples_path: str | None = Field(
        default=None, description="Where the samples (JSON Lines) are, relative to spec.output's claim root."
    )
    verdict: Verdict | None = Field(
        default=None, description="candidate, baseline or inconclusive, by the rule in docs/evaluation.md."
    )
    verdict_reason: VerdictReason | None = Field(default=None, description="Why, as a CamelCase reason.")
    verdict_message: str | None = Field(default=None, description="Why, in words, with the figures that decided.")


class Progress(ApiModel):
    """The evaluator's progress, pulled from its /progress endpoint while it runs."""

    done: int | None = Field(default=None, ge=0, description="Prompts answered by both models (and judged).")
    total: int | None = Field(default=None, ge=0, description="Prompts to answer.")
    in_flight: int | None = Field(default=None, ge=0, description="Requests in flight, both models together.")
    errors: int | None = Field(default=None, ge=0, description="Failed request attempts so far, retried or not.")
    percent: float | None = Field(default=None, ge=0, le=100, description="done / total, in percent.")
    updated_at: datetime | None = Field(default=None, description="When the evaluator last reported.")


class ModelComparisonStatus(ApiModel):
    """What the operator observed. Written only by the operator."""

    phase: Phase | None = Field(default=None, description="Pending, Running, Succeeded or Failed.")
    conditions: list[Condition] = conditions_field()
    observed_generation: int | None = Field(
        default=None, ge=0, description="metadata.generation of the spec the status reflects."
    )
    progress: Progress | None = Field(default=None, description="Progress of the running evaluator.")
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
                "Win rate", ".status.results.winRate.candidate", "number", "Adjusted win rate of the candidate."
            ),
            PrinterColumn("N", ".status.results.winRate.n", "integer", "Pairs compared."),
            PrinterColumn("Done", ".status.progress.done", "integer", "Prompts answered so far.", priority=1),
            AGE_COLUMN,
        ),
    )
