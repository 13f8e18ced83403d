"""ModelComparison end to end on the session's 2-replica vLLM CPU Deployment: a comparison waits for its
FineTunedModel, tests the trained adapter against its base on the job's held-out split and finds it better; a model
against itself is inconclusive; a killed evaluator resumes without doing a sample twice; everything lands in the
mirror."""

from __future__ import annotations

import json
import time
from typing import Any

import psycopg
import pytest

from kubetune_devcluster.controlplane import LocalCluster
from kubetune_devcluster.kubeapi import KubeREST
from kubetune_devcluster.operator_process import OperatorProcess
from kubetune_devcluster.waiting import wait_for

from .conftest import BASE_MODEL_NAME, training_job
from .helpers import logged_steps, mc_path, tj_path, wait_event, wait_mc, wait_phase

pytestmark = [pytest.mark.cluster, pytest.mark.vllm, pytest.mark.slow]
Json = dict[str, Any]
ANSWER = "Your order ships on Tuesday."
ITEMS = ["parcel", "order", "package", "box", "delivery", "shipment", "refund", "ticket"]
WORDS = ["where", "is", "my", "when", "will", "arrive", "status", "of", "the", "please", "check", "today"]


def order_questions(n: int, offset: int = 0) -> list[str]:
    """Varied questions whose answer is always the same sentence: what an adapter learns carries over to questions it
    never saw (the held-out split is learnable), and the base model (random weights) cannot say it."""
    questions = []
    for i in range(offset, offset + n):
        words = [WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(2 + i % 3)]
        questions.append(f"{' '.join(words)} {ITEMS[i % len(ITEMS)]} {1000 + 37 * i}?")
    return questions


def comparison(name: str, candidate: Json, prompts: Json, **spec: Any) -> Json:
    body = {"baseline": {"servedName": BASE_MODEL_NAME}, "candidate": candidate,
            "endpoint": {"deployment": "vllm", "port": 8000}, "prompts": prompts,
            "sampling": {"maxTokens": 40, "temperature": 0.0, "seed": 3}, "minSamples": 10,
            "primaryMetric": "exactMatch", "concurrency": 4, **spec}
    return {"apiVersion": "kubetune.dev/v1alpha1", "kind": "ModelComparison", "metadata": {"name": name},
            "spec": body}


def rows(url: str, query: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return list(conn.execute(query, args).fetchall())


def test_a_comparison_waits_for_its_model_then_finds_the_trained_adapter_better(
        kube: KubeREST, serving_ns: str, operator: OperatorProcess, mirror_database: str) -> None:
    ns = serving_ns
    # Applied first: it waits, Pending, for the FineTunedModel the training job has yet to register.
    kube.create(mc_path(ns), comparison("orders-vs-base", {"fineTunedModelRef": {"name": "orders-v1"}},
                                        {"fromTrainingJob": {"name": "orders"}}, samples=100))
    waiting = wait_mc(kube, ns, "orders-vs-base", lambda s: s.get("phase") == "Pending", operator, 60)["status"]
    assert waiting["reason"] in ("FineTunedModelNotFound", "ModelNotServing"), waiting
    assert kube.get(KubeREST.path_for("Job", ns), labelSelector="kubetune.dev/modelcomparison=orders-vs-base")[
        "items"] == [], "nothing runs before the candidate is served"

    rows_ = [{"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": ANSWER}]}
             for q in order_questions(64)]
    kube.create(tj_path(ns), training_job(
        "orders", rows_, dataset={"format": "openai", "source": {"inline": rows_}, "validationSplit": 0.25},
        lora={"r": 8, "alpha": 16, "targetModules": "all-linear"},
        hyperparameters={"maxSteps": 160, "batchSize": 8, "learningRate": 0.01, "maxSeqLength": 96},
        output={"modelName": "orders", "storage": {"pvc": {"claimName": "adapters"}}},
        serving={"targets": [{"deployment": "vllm", "port": 8000}]}))
    tj = wait_phase(kube, ns, "orders", ("Succeeded", "Failed"), operator=operator, timeout=600)
    assert tj["status"]["phase"] == "Succeeded", tj["status"]
    held_out = tj["status"]["validationSplit"]
    assert held_out["examples"] > 0 and len(held_out["sha256"]) == 64

    done = wait_mc(kube, ns, "orders-vs-base", lambda s: s.get("phase") in ("Succeeded", "Failed"), operator)
    status = done["status"]
    assert status["phase"] == "Succeeded", status
    results = status["results"]
    assert results["verdict"] == "candidate", results
    assert results["samples"] == held_out["examples"], "exactly the held-out split, nothing trained on"
    assert results["candidate"]["exactMatch"] > results["baseline"]["exactMatch"]
    assert results["candidate"]["tokenF1"] > results["baseline"]["tokenF1"]
    assert results["differences"]["exactMatch"]["ci95"][0] > 0
    assert results["differences"]["tokenF1"]["ci95"][0] > 0
    for side in ("baseline", "candidate"):
        assert results[side]["completed"] == results["samples"]
        assert results[side]["ttftMs"]["p50"] > 0 and results[side]["outputTokensPerSecond"] > 0
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Succeeded"]["status"] == "True" and conditions["Succeeded"]["reason"] == "CandidateBetter"
    wait_event(kube, ns, "orders-vs-base", "ModelComparison",
               lambda e: e["reason"] == "Verdict" and "verdict candidate" in e["message"])

    # The mirror has the run's whole history: every logged step, the loads on both pods, the comparison and its
    # samples (the evaluator's /samples, read before its pod exited).
    job_uid, mc_uid = tj["metadata"]["uid"], done["metadata"]["uid"]
    steps = wait_for(lambda: [r[0] for r in rows(mirror_database, "select step from training_metrics where job_uid "
                                                  "= %s order by step", job_uid)] or None, 30, what="loss curve")
    assert steps == logged_steps(160), steps
    model = rows(mirror_database, "select uid, served_name from fine_tuned_models where origin_job = %s",
                 "orders")[0]
    loads = rows(mirror_database, "select pod from deployment_history where model_uid = %s and action = 'load' and "
                 "outcome = 'succeeded'", model[0])
    assert len({p for (p,) in loads}) == 2
    wait_for(lambda: rows(mirror_database, "select verdict from model_comparisons where uid = %s", mc_uid) ==
             [("candidate",)], 30, what="the comparison's row")
    samples = rows(mirror_database, "select sample_index, candidate_answer from comparison_samples where "
                   "comparison_uid = %s order by sample_index", mc_uid)
    assert [s[0] for s in samples] == list(range(results["samples"]))


def test_a_model_against_itself_is_inconclusive(kube: KubeREST, serving_ns: str, operator: OperatorProcess) -> None:
    prompts = [{"prompt": q, "reference": ANSWER} for q in order_questions(30, offset=100)]
    body = comparison("self", {"servedName": BASE_MODEL_NAME, "endpoint": {"deployment": "vllm", "port": 8000}},
                      {"inline": prompts}, samples=30)
    kube.create(mc_path(serving_ns), body)
    status = wait_mc(kube, serving_ns, "self", lambda s: s.get("phase") in ("Succeeded", "Failed"), operator)[
        "status"]
    assert status["phase"] == "Succeeded", status
    results = status["results"]
    assert results["verdict"] == "inconclusive", results
    low, high = results["winRate"]["ci95"]
    assert low <= 0.5 <= high, results["winRate"]
    assert results["differences"]["exactMatch"]["mean"] == 0


def test_a_killed_evaluator_resumes_without_doing_a_sample_twice(
        kube: KubeREST, serving_ns: str, operator: OperatorProcess, cluster: LocalCluster) -> None:
    ns = serving_ns
    prompts = [{"prompt": q, "reference": ANSWER} for q in order_questions(80, offset=200)]
    kube.create(mc_path(ns), comparison(
        "resumed", {"servedName": BASE_MODEL_NAME, "endpoint": {"deployment": "vllm", "port": 8000}},
        {"inline": prompts}, samples=80, concurrency=1, sampling={"maxTokens": 40, "temperature": 0.0, "seed": 3},
        output={"pvc": {"claimName": "adapters", "path": "comparisons"}}))
    running = wait_mc(kube, ns, "resumed", lambda s: (s.get("progress") or {}).get("done", 0) >= 5 or
                      s.get("phase") in ("Succeeded", "Failed"), operator)
    assert running["status"]["phase"] == "Running", "finished before it could be killed: give it more work"
    pods = kube.get(KubeREST.path_for("Pod", ns), labelSelector="kubetune.dev/modelcomparison=resumed")["items"]
    victim = next(p for p in pods if p["status"].get("phase") == "Running")
    kube.delete(KubeREST.path_for("Pod", ns, victim["metadata"]["name"]),
                {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0})
    status = wait_mc(kube, ns, "resumed", lambda s: s.get("phase") in ("Succeeded", "Failed"), operator)["status"]
    assert status["phase"] == "Succeeded", status
    assert status["results"]["samples"] == 80
    samples_file = cluster.volume_path(ns, "adapters") / status["results"]["samplesPath"]
    records = [json.loads(line) for line in samples_file.read_text().splitlines()]
    assert len(records) == 80 and len({r["id"] for r in records}) == 80, "n = samples, none twice"
    assert {r["attempt"] for r in records} == {1, 2}, "the second pod resumed what the first had written"
    # The killed pod is gone (deleted with no grace); the one left is its replacement.
    pods = kube.get(KubeREST.path_for("Pod", ns), labelSelector="kubetune.dev/modelcomparison=resumed")["items"]
    assert [p["metadata"]["name"] for p in pods] != [victim["metadata"]["name"]] and len(pods) == 1


def test_a_comparison_refuses_an_unmarked_api_key_secret(
        kube: KubeREST, serving_ns: str, operator: OperatorProcess) -> None:
    ns = serving_ns
    kube.create(KubeREST.path_for("Secret", ns), {"apiVersion": "v1", "kind": "Secret",
                                                  "metadata": {"name": "someones-password"},
                                                  "stringData": {"value": "hunter2-hunter2"}})
    body = comparison("keyless", {"servedName": BASE_MODEL_NAME, "endpoint": {"deployment": "vllm", "port": 8000}},
                      {"inline": [{"prompt": "hi", "reference": "hello"}]}, samples=1, minSamples=1)
    body["spec"]["endpoint"]["apiKeySecretRef"] = {"name": "someones-password", "key": "value"}
    kube.create(mc_path(ns), body)
    status = wait_mc(kube, ns, "keyless", lambda s: s.get("reason") == "SecretNotMarked", operator, 60)["status"]
    assert status["phase"] == "Pending" and 'kubetune.dev/api-key: "true"' in status["message"]
    time.sleep(2)
    assert kube.get(KubeREST.path_for("Job", ns), labelSelector="kubetune.dev/modelcomparison=keyless")["items"] == []
    kube.delete(mc_path(ns, "keyless"))


def test_evaluator_pods_carry_no_credentials(kube: KubeREST, serving_ns: str) -> None:
    jobs = kube.get(KubeREST.path_for("Job", serving_ns), labelSelector="kubetune.dev/modelcomparison")["items"]
    assert jobs, "the comparisons above ran"
    for job in jobs:
        spec = job["spec"]["template"]["spec"]
        assert spec["automountServiceAccountToken"] is False
        container = spec["containers"][0]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert all("value" not in e or not e["name"].endswith("API_KEY") for e in container["env"])
