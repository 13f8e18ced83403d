"""build_evaluator_config / _configmap / _job: the evaluator pod, from a ModelComparison and the resolved facts."""

from __future__ import annotations

import json
from typing import Any

import pytest
from builder_inputs import UID, make_trainingjob

from kubetune.api import ModelComparison, SecretKeyRef, parse_resource
from kubetune.api.evaluator import EXIT_CONFIG_INVALID, EXIT_ENDPOINT_ERRORS, EXIT_PROMPTS_INVALID, EvaluatorConfig
from kubetune.builders.evaluation import (
    MODELCOMPARISON,
    ConfigMapPrompts,
    InlinePrompts,
    ResolvedComparison,
    ResolvedModel,
    VolumePrompts,
    build_evaluator_config,
    build_evaluator_configmap,
    build_evaluator_job,
    evaluator_name,
    held_out_prompts,
    pod_urls,
    samples_path,
    service_url,
    spec_prompts,
)
from kubetune.settings import OperatorSettings

Json = dict[str, Any]
KEY = SecretKeyRef(name="vllm", key="api-key")


def comparison(**spec: Any) -> ModelComparison:
    body: Json = {
        "baseline": {"servedName": "google/gemma-3-12b-it"},
        "candidate": {"fineTunedModelRef": {"name": "support-bot-v3"}},
        "endpoint": {"deployment": "vllm-gemma", "port": 8000},
        "prompts": {"inline": [{"prompt": "What is the capital of France?", "reference": "Paris."},
                               {"prompt": "Où est ma commande ?"}]},
        **spec,
    }
    mc = parse_resource({"apiVersion": "kubetune.dev/v1alpha1", "kind": "ModelComparison",
                         "metadata": {"name": "bot-vs-base", "namespace": "team-a", "uid": UID, "generation": 1},
                         "spec": body})
    assert isinstance(mc, ModelComparison)
    return mc


def facts(prompts: Any = None, key: SecretKeyRef | None = None, judge: bool = False) -> ResolvedComparison:
    urls = pod_urls(["10.0.0.12", "10.0.0.7"], 8000)
    return ResolvedComparison(
        baseline=ResolvedModel("google/gemma-3-12b-it", urls, key),
        candidate=ResolvedModel("support-bot-v3", urls, key),
        prompts=prompts or InlinePrompts(),
        judge=ResolvedModel("qwen-judge", service_url("judge", "team-a", 8000), key) if judge else None,
    )


def config_of(configmap: Json) -> EvaluatorConfig:
    return EvaluatorConfig.model_validate_json(configmap["data"]["evaluator.json"])


def container(job: Json) -> Json:
    (only,) = job["spec"]["template"]["spec"]["containers"]
    return only


def mounts(job: Json) -> dict[str, Json]:
    return {m["name"]: m for m in container(job)["volumeMounts"]}


def volumes(job: Json) -> dict[str, Json]:
    return {v["name"]: v for v in job["spec"]["template"]["spec"]["volumes"]}


def test_urls_of_pods_are_sorted_and_of_a_service_are_its_dns_name() -> None:
    assert pod_urls(["10.0.0.12", "10.0.0.7"], 8000) == ("http://10.0.0.12:8000", "http://10.0.0.7:8000")
    assert service_url("judge", "team-a", 8000) == ("http://judge.team-a.svc:8000",)


def test_config_carries_models_sampling_and_rule(settings: OperatorSettings) -> None:
    mc = comparison(sampling={"maxTokens": 64, "temperature": 0.2, "seed": 7}, samples=50, concurrency=4,
                    minSamples=20, primaryMetric="exactMatch", maxErrorRate=0.1, requestTimeoutSeconds=60)
    config = build_evaluator_config(mc, facts(), settings)
    assert (config.baseline.model, config.candidate.model) == ("google/gemma-3-12b-it", "support-bot-v3")
    assert config.candidate.urls == ["http://10.0.0.12:8000", "http://10.0.0.7:8000"]
    assert (config.sampling.max_tokens, config.sampling.temperature, config.sampling.seed) == (64, 0.2, 7)
    assert (config.samples, config.concurrency) == (50, 4)
    assert (config.verdict.min_samples, config.verdict.primary_metric, config.verdict.seed) == (20, "exactMatch", 7)
    assert (config.failures.max_error_rate, config.failures.request_timeout_seconds) == (0.1, 60)
    assert config.progress.port == settings.progress_port and config.judge is None
    assert config.comparison.name == "bot-vs-base" and config.output.dir is None


def test_inline_prompts_go_into_the_configmap_and_no_key_does(settings: OperatorSettings) -> None:
    mc = comparison(judge={"endpoint": {"service": "judge"}, "model": "qwen-judge", "positionSwap": False})
    configmap = build_evaluator_configmap(mc, facts(key=KEY, judge=True), settings)
    assert configmap["metadata"]["name"] == evaluator_name(mc) == "bot-vs-base-evaluator"
    assert configmap["metadata"]["ownerReferences"][0]["uid"] == UID
    rows = [json.loads(line) for line in configmap["data"]["prompts.jsonl"].splitlines()]
    assert rows == [{"prompt": "What is the capital of France?", "reference": "Paris."},
                    {"prompt": "Où est ma commande ?"}]
    config = config_of(configmap)
    assert config.prompts.path == "/etc/kubetune/prompts.jsonl" and config.prompts.format == "jsonl"
    assert config.baseline.api_key_env == "KUBETUNE_BASELINE_API_KEY"
    assert config.judge is not None and config.judge.api_key_env == "KUBETUNE_JUDGE_API_KEY"
    assert (config.judge.model, config.judge.urls, config.judge.position_swap) == (
        "qwen-judge", ["http://judge.team-a.svc:8000"], False)
    assert "vllm" not in json.dumps(configmap["data"])  # the Secret's name, let alone its value, is not there


@pytest.mark.parametrize(("location", "path", "volume", "mount"), [
    (ConfigMapPrompts("eval-prompts", "prompts.jsonl"), "/prompts/prompts.jsonl",
     {"configMap": {"name": "eval-prompts", "items": [{"key": "prompts.jsonl", "path": "prompts.jsonl"}]}},
     {"mountPath": "/prompts", "readOnly": True}),
    (VolumePrompts("data", "eval/prompts.jsonl"), "/prompts/prompts.jsonl",
     {"persistentVolumeClaim": {"claimName": "data", "readOnly": True}},
     {"mountPath": "/prompts", "readOnly": True, "subPath": "eval"}),
    (VolumePrompts("data", "prompts.jsonl"), "/prompts/prompts.jsonl",
     {"persistentVolumeClaim": {"claimName": "data", "readOnly": True}}, {"mountPath": "/prompts", "readOnly": True}),
])
def test_prompt_sources_are_mounted_read_only(settings: OperatorSettings, location: Any, path: str, volume: Json,
                                              mount: Json) -> None:
    mc = comparison()
    config = build_evaluator_config(mc, facts(location), settings)
    job = build_evaluator_job(mc, facts(location), settings)
    assert config.prompts.path == path
    assert volumes(job)["prompts"] == {"name": "prompts", **volume}
    assert mounts(job)["prompts"] == {"name": "prompts", **mount}
    assert "prompts.jsonl" not in build_evaluator_configmap(mc, facts(location), settings)["data"]


def test_the_held_out_split_of_a_training_job(settings: OperatorSettings) -> None:
    tj = make_trainingjob(name="support-bot")
    location = held_out_prompts(tj, "a" * 64)
    assert location.claim_name == "adapters"
    assert location.path == f"runs/support-bot/support-bot-{UID[:8]}/validation.jsonl"
    config = build_evaluator_config(comparison(prompts={"fromTrainingJob": {"name": "support-bot"}}),
                                    facts(location), settings)
    assert (config.prompts.path, config.prompts.format, config.prompts.sha256) == (
        "/prompts/validation.jsonl", "training-split", "a" * 64)
    job = build_evaluator_job(comparison(), facts(location), settings)
    assert mounts(job)["prompts"]["subPath"] == f"runs/support-bot/support-bot-{UID[:8]}"


def test_spec_prompts_maps_the_sources_without_io() -> None:
    assert spec_prompts(comparison()) == InlinePrompts()
    assert spec_prompts(comparison(prompts={"configMap": {"name": "p", "key": "k"}})) == ConfigMapPrompts("p", "k")
    assert spec_prompts(comparison(prompts={"pvc": {"claimName": "c", "path": "a/b.jsonl"}})) == \
        VolumePrompts("c", "a/b.jsonl")
    assert spec_prompts(comparison(prompts={"fromTrainingJob": {"name": "t"}})) is None


def test_samples_go_to_a_directory_per_comparison_on_the_output_claim(settings: OperatorSettings) -> None:
    mc = comparison(output={"pvc": {"claimName": "evals", "path": "comparisons"}})
    assert samples_path(mc) == f"comparisons/bot-vs-base-{UID[:8]}/samples.jsonl"
    assert build_evaluator_config(mc, facts(), settings).output.dir == f"/samples/comparisons/bot-vs-base-{UID[:8]}"
    job = build_evaluator_job(mc, facts(), settings)
    assert volumes(job)["samples"]["persistentVolumeClaim"] == {"claimName": "evals"}
    assert mounts(job)["samples"] == {"name": "samples", "mountPath": "/samples"}
    assert samples_path(comparison()) is None and "samples" not in volumes(build_evaluator_job(comparison(), facts(),
                                                                                                 settings))


def test_api_keys_reach_the_pod_as_secret_key_refs_only(settings: OperatorSettings) -> None:
    job = build_evaluator_job(comparison(), facts(key=KEY, judge=True), settings)
    env = {e["name"]: e for e in container(job)["env"]}
    for name in ("KUBETUNE_BASELINE_API_KEY", "KUBETUNE_CANDIDATE_API_KEY", "KUBETUNE_JUDGE_API_KEY"):
        assert env[name] == {"name": name, "valueFrom": {"secretKeyRef": {"name": "vllm", "key": "api-key"}}}
    no_keys = build_evaluator_job(comparison(), facts(), settings)
    assert not [e for e in container(no_keys)["env"] if e["name"].endswith("_API_KEY")]


def test_the_pod_is_least_privileged(settings: OperatorSettings) -> None:
    job = build_evaluator_job(comparison(), facts(), settings)
    pod = job["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False and pod["restartPolicy"] == "Never"
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 1234
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    security = container(job)["securityContext"]
    assert security == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "runAsNonRoot": True,
                        "readOnlyRootFilesystem": True}
    assert container(job)["command"] == ["/opt/venv/bin/python", "-m", "kubetune.evaluation", "--config",
                                         "/etc/kubetune/evaluator.json"]
    assert container(job)["image"] == settings.evaluator_image
    assert build_evaluator_job(comparison(image="registry.example/eval:2"), facts(), settings)["spec"]["template"][
        "spec"]["containers"][0]["image"] == "registry.example/eval:2"


def test_job_identity_retries_and_failure_policy(settings: OperatorSettings) -> None:
    mc = comparison(backoffLimit=5, activeDeadlineSeconds=3600)
    job = build_evaluator_job(mc, facts(), settings)
    assert (job["metadata"]["name"], job["metadata"]["namespace"]) == ("bot-vs-base-evaluator", "team-a")
    assert job["metadata"]["labels"][MODELCOMPARISON] == "bot-vs-base"
    assert job["spec"]["template"]["metadata"]["labels"][MODELCOMPARISON] == "bot-vs-base"
    owner = job["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == ("ModelComparison", "bot-vs-base",
                                                                                 UID, True)
    spec = job["spec"]
    assert (spec["backoffLimit"], spec["activeDeadlineSeconds"], spec["podReplacementPolicy"]) == (5, 3600, "Failed")
    fail, ignore = spec["podFailurePolicy"]["rules"]
    assert fail["action"] == "FailJob" and sorted(fail["onExitCodes"]["values"]) == sorted(
        [EXIT_PROMPTS_INVALID, EXIT_CONFIG_INVALID, EXIT_ENDPOINT_ERRORS])
    assert ignore == {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}
    assert "activeDeadlineSeconds" not in build_evaluator_job(comparison(), facts(), settings)["spec"]
