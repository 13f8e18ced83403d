"""ModelComparison + the facts the controller resolved -> the evaluator config, its ConfigMap, and the batch/v1 Job
that runs the evaluator pod.

The controller does the I/O (which pods are Ready, what a FineTunedModel serves, where a TrainingJob's held-out split
lies and its digest) and hands the answers in as a frozen ``ResolvedComparison``; everything here is pure.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass
from typing import Any

from ..api import ModelComparison, SecretKeyRef, TrainingJob
from ..api.evaluator import (
    PERMANENT_EXIT_CODES,
    SAMPLES_FILE,
    ComparisonRef,
    EvaluatorConfig,
    FailurePolicy,
    JudgeTarget,
    ModelTarget,
    OutputConfig,
    ProgressSettings,
    PromptsConfig,
    SamplingConfig,
    VerdictRule,
)
from ..settings import OperatorSettings
from .naming import child_name, common_labels, owner_reference
from .training import held_out_path

CONFIG_DIR = "/etc/kubetune"
CONFIG_FILE = "evaluator.json"
INLINE_PROMPTS_FILE = "prompts.jsonl"
PROMPTS_DIR = "/prompts"
SAMPLES_DIR = "/samples"
CONTAINER = "evaluator"
TERMINATION_LOG = "/dev/termination-log"
COMPONENT = "evaluator"
MODELCOMPARISON = "kubetune.dev/modelcomparison"
MODELCOMPARISON_UID = "kubetune.dev/modelcomparison-uid"
API_KEY_ENV = {"baseline": "KUBETUNE_BASELINE_API_KEY", "candidate": "KUBETUNE_CANDIDATE_API_KEY",
               "judge": "KUBETUNE_JUDGE_API_KEY"}


# -- the facts the controller resolves ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ResolvedModel:
    """One model as the evaluator will call it."""

    served_name: str
    """The ``model`` sent in requests: a servedName, or the FineTunedModel's servedName."""
    urls: tuple[str, ...]
    """Base URLs without /v1: one per Ready pod of a Deployment (``pod_urls``), or a Service's (``service_url``)."""
    api_key: SecretKeyRef | None = None
    """The endpoint's apiKeySecretRef; it reaches the pod as secretKeyRef env, never the ConfigMap."""


@dataclass(frozen=True)
class ConfigMapPrompts:
    """spec.prompts.configMap: the key is mounted as a file."""

    name: str
    key: str


@dataclass(frozen=True)
class VolumePrompts:
    """A JSON Lines file on a claim: spec.prompts.pvc, or a TrainingJob's held-out split (``held_out_prompts``)."""

    claim_name: str
    path: str
    """Relative to the claim's root."""
    sha256: str | None = None
    """The digest the trainer recorded; the evaluator refuses a file that differs."""
    training_split: bool = False
    """A trainer's held-out split ({messages} or {prompt, completion} rows)."""


@dataclass(frozen=True)
class InlinePrompts:
    """spec.prompts.inline: written into the evaluator's ConfigMap."""


PromptLocation = ConfigMapPrompts | VolumePrompts | InlinePrompts


@dataclass(frozen=True)
class ResolvedComparison:
    """Everything the builders need that is not in the ModelComparison itself."""

    baseline: ResolvedModel
    candidate: ResolvedModel
    prompts: PromptLocation
    judge: ResolvedModel | None = None


# -- helpers for the controller ----------------------------------------------------------------------------------
def pod_urls(pod_ips: list[str] | tuple[str, ...], port: int) -> tuple[str, ...]:
    """A Deployment's Ready pods, in a stable order, so prompt i always goes to the same pod on a retry."""
    return tuple(f"http://{ip}:{port}" for ip in sorted(pod_ips))


def service_url(service: str, namespace: str, port: int) -> tuple[str, ...]:
    return (f"http://{service}.{namespace}.svc:{port}",)


def held_out_prompts(tj: TrainingJob, sha256: str | None) -> VolumePrompts:
    """The held-out split a TrainingJob's trainer wrote beside its adapter, on its output claim."""
    return VolumePrompts(claim_name=tj.spec.output.storage.pvc.claim_name, path=held_out_path(tj), sha256=sha256,
                         training_split=True)


def spec_prompts(mc: ModelComparison) -> PromptLocation | None:
    """The prompt location of inline, configMap and pvc sources (None for fromTrainingJob, which needs I/O)."""
    source = mc.spec.prompts
    if source.inline is not None:
        return InlinePrompts()
    if source.config_map is not None:
        return ConfigMapPrompts(source.config_map.name, source.config_map.key)
    if source.pvc is not None:
        return VolumePrompts(source.pvc.claim_name, source.pvc.path)
    return None


def evaluator_name(mc: ModelComparison) -> str:
    """Name of the Job and of its ConfigMap."""
    return child_name(_name(mc), "evaluator")


def samples_dir(mc: ModelComparison) -> str | None:
    """The comparison's directory on spec.output's claim, relative to its root: one per object, so a re-created
    comparison of the same name starts clean."""
    if mc.spec.output is None:
        return None
    uid = (mc.metadata.uid or "")[:8]
    return posixpath.join(mc.spec.output.pvc.path, f"{_name(mc)}-{uid}")


def samples_path(mc: ModelComparison) -> str | None:
    """Where the samples file lies on spec.output's claim (for status.results.samplesPath)."""
    directory = samples_dir(mc)
    return posixpath.join(directory, SAMPLES_FILE) if directory is not None else None


def labels(mc: ModelComparison) -> dict[str, str]:
    return {**common_labels(COMPONENT), MODELCOMPARISON: _name(mc), MODELCOMPARISON_UID: mc.metadata.uid or ""}


def _name(mc: ModelComparison) -> str:
    assert mc.metadata.name, "a ModelComparison from the API server always has a name"
    return mc.metadata.name


# -- the config --------------------------------------------------------------------------------------------------
def _target(role: str, model: ResolvedModel) -> dict[str, Any]:
    return {"model": model.served_name, "urls": list(model.urls),
            "api_key_env": API_KEY_ENV[role] if model.api_key is not None else None}


def _prompts_config(location: PromptLocation) -> PromptsConfig:
    if isinstance(location, InlinePrompts):
        return PromptsConfig(path=posixpath.join(CONFIG_DIR, INLINE_PROMPTS_FILE))
    if isinstance(location, ConfigMapPrompts):
        return PromptsConfig(path=posixpath.join(PROMPTS_DIR, INLINE_PROMPTS_FILE))
    return PromptsConfig(path=posixpath.join(PROMPTS_DIR, posixpath.basename(location.path)),
                         format="training-split" if location.training_split else "jsonl", sha256=location.sha256)


def _samples_dir_in_pod(mc: ModelComparison) -> str | None:
    directory = samples_dir(mc)
    return posixpath.join(SAMPLES_DIR, directory) if directory is not None else None


def build_evaluator_config(mc: ModelComparison, facts: ResolvedComparison,
                           settings: OperatorSettings) -> EvaluatorConfig:
    """The config the evaluator pod reads from /etc/kubetune/evaluator.json."""
    spec = mc.spec
    judge = None
    if spec.judge is not None and facts.judge is not None:
        judge = JudgeTarget(**_target("judge", facts.judge), position_swap=spec.judge.position_swap)
    sampling = spec.sampling
    return EvaluatorConfig(
        comparison=ComparisonRef(name=_name(mc), namespace=mc.metadata.namespace or "", uid=mc.metadata.uid or ""),
        baseline=ModelTarget(**_target("baseline", facts.baseline)),
        candidate=ModelTarget(**_target("candidate", facts.candidate)),
        judge=judge,
        prompts=_prompts_config(facts.prompts),
        sampling=SamplingConfig(max_tokens=sampling.max_tokens, temperature=sampling.temperature,
                                top_p=sampling.top_p, seed=sampling.seed),
        samples=spec.samples,
        concurrency=spec.concurrency,
        output=OutputConfig(dir=_samples_dir_in_pod(mc)),
        verdict=VerdictRule(min_samples=spec.min_samples, primary_metric=spec.primary_metric,
                            seed=sampling.seed or 0),
        failures=FailurePolicy(max_error_rate=spec.max_error_rate,
                               request_timeout_seconds=spec.request_timeout_seconds),
        # The pod waits (a while) until the operator has read every sample from /samples, for the mirror.
        progress=ProgressSettings(port=settings.progress_port, linger_seconds=2 * settings.progress_interval + 5),
        termination_message_path=TERMINATION_LOG,
    )


def build_evaluator_configmap(mc: ModelComparison, facts: ResolvedComparison,
                              settings: OperatorSettings) -> dict[str, Any]:
    """The ConfigMap mounted at /etc/kubetune: evaluator.json, plus inline prompts as JSON Lines. No API key."""
    config = build_evaluator_config(mc, facts, settings)
    data = {CONFIG_FILE: config.model_dump_json(by_alias=True, exclude_none=True, indent=2)}
    if isinstance(facts.prompts, InlinePrompts):
        assert mc.spec.prompts.inline is not None, "InlinePrompts go with spec.prompts.inline"
        data[INLINE_PROMPTS_FILE] = "".join(json.dumps(p.to_dict(), ensure_ascii=False) + "\n"
                                            for p in mc.spec.prompts.inline)
    return {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": evaluator_name(mc), "namespace": mc.metadata.namespace, "labels": labels(mc),
                     "ownerReferences": [owner_reference("ModelComparison", _name(mc), mc.metadata.uid or "")]},
        "data": data,
    }


# -- the Job -----------------------------------------------------------------------------------------------------
def _api_key_env(facts: ResolvedComparison) -> list[dict[str, Any]]:
    env = []
    for role, model in (("baseline", facts.baseline), ("candidate", facts.candidate), ("judge", facts.judge)):
        if model is not None and model.api_key is not None:
            env.append({"name": API_KEY_ENV[role], "valueFrom": {"secretKeyRef": {
                "name": model.api_key.name, "key": model.api_key.key}}})
    return env


def _prompt_volumes(location: PromptLocation) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    if isinstance(location, ConfigMapPrompts):
        return ([{"name": "prompts", "configMap": {"name": location.name,
                                                   "items": [{"key": location.key, "path": INLINE_PROMPTS_FILE}]}}],
                [{"name": "prompts", "mountPath": PROMPTS_DIR, "readOnly": True}])
    if isinstance(location, VolumePrompts):
        # Only the file's directory is mounted (subPath), read-only: the evaluator sees nothing else of the claim.
        mount: dict[str, Any] = {"name": "prompts", "mountPath": PROMPTS_DIR, "readOnly": True}
        directory = posixpath.dirname(location.path)
        if directory:
            mount["subPath"] = directory
        return ([{"name": "prompts", "persistentVolumeClaim": {"claimName": location.claim_name, "readOnly": True}}],
                [mount])
    return [], []


def build_evaluator_job(mc: ModelComparison, facts: ResolvedComparison, settings: OperatorSettings) -> dict[str, Any]:
    """The batch/v1 Job that runs one evaluator pod at a time, retried (and resumed) up to spec.backoffLimit."""
    spec = mc.spec
    name = evaluator_name(mc)
    pod_labels = labels(mc)
    volumes, mounts = _prompt_volumes(facts.prompts)
    if spec.output is not None:
        # The claim's root, not a subPath: the comparison's directory may not exist yet, and the evaluator makes it.
        volumes.append({"name": "samples", "persistentVolumeClaim": {"claimName": spec.output.pvc.claim_name}})
        mounts.append({"name": "samples", "mountPath": SAMPLES_DIR})
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": spec.image or settings.evaluator_image,
        "imagePullPolicy": settings.image_pull_policy,
        "command": [settings.python, "-m", "kubetune.evaluation", "--config",
                    posixpath.join(CONFIG_DIR, CONFIG_FILE)],
        "env": [
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "PYTHONUNBUFFERED", "value": "1"},
            *_api_key_env(facts),
        ],
        "ports": [{"name": "progress", "containerPort": settings.progress_port}],
        "resources": {"requests": {"cpu": "500m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
        "volumeMounts": [{"name": "config", "mountPath": CONFIG_DIR, "readOnly": True}, *mounts,
                         {"name": "tmp", "mountPath": "/tmp"}],
        "terminationMessagePath": TERMINATION_LOG,
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "runAsNonRoot": True,
            "readOnlyRootFilesystem": True,
        },
    }
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        # The evaluator needs no Kubernetes credentials: progress is pulled, the result is its termination message.
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True, "runAsUser": settings.pod_user, "runAsGroup": settings.pod_user,
            "fsGroup": settings.pod_user, "seccompProfile": {"type": "RuntimeDefault"},
        },
        "terminationGracePeriodSeconds": 30,
        "containers": [container],
        "volumes": [{"name": "config", "configMap": {"name": name}}, *volumes, {"name": "tmp", "emptyDir": {}}],
    }
    job_spec: dict[str, Any] = {
        "backoffLimit": spec.backoff_limit,
        "completions": 1,
        "parallelism": 1,
        # Never two pods at once: a replacement starts only after the old pod stopped appending samples.
        "podReplacementPolicy": "Failed",
        "podFailurePolicy": {"rules": [
            # Bad prompts, a bad config or an endpoint failing past the threshold fail the same way on every retry.
            {"action": "FailJob", "onExitCodes": {"containerName": CONTAINER, "operator": "In",
                                                  "values": list(PERMANENT_EXIT_CODES)}},
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
        ]},
        "template": {"metadata": {"labels": pod_labels}, "spec": pod_spec},
    }
    if spec.active_deadline_seconds:
        job_spec["activeDeadlineSeconds"] = spec.active_deadline_seconds
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": mc.metadata.namespace, "labels": pod_labels,
                     "ownerReferences": [owner_reference("ModelComparison", _name(mc), mc.metadata.uid or "")]},
        "spec": job_spec,
    }
