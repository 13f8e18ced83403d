"""A SQLite mirror written by the store's own writer (``kubetune.store.Mirror``), for the dashboard's queries and
pages without a cluster: one succeeded run with a long loss curve, the model it registered (served on two pods, with
its deployment history), a comparison of it with samples in the evaluator's record shape, and one run still going."""

from __future__ import annotations

import asyncio
import math
from typing import Any

from kubetune.store import Mirror

Json = dict[str, Any]
NS = "ml"
STEPS = 5000  # more than the 2,000 points a curve is down-sampled to
SPIKE_STEP = 3217


def training_job(name: str, uid: str, phase: str, **status: Any) -> Json:
    return {"apiVersion": "kubetune.dev/v1alpha1", "kind": "TrainingJob",
            "metadata": {"name": name, "namespace": NS, "uid": uid, "resourceVersion": "10",
                         "creationTimestamp": "2026-11-30T10:00:00Z"},
            "spec": {"baseModel": {"name": "tiny-llama"}, "dataset": {"format": "openai", "source": {"inline": []}},
                     "lora": {"r": 8, "alpha": 16}, "hyperparameters": {"learningRate": 0.005},
                     "output": {"modelName": "support-bot", "storage": {"pvc": {"claimName": "adapters"}}}},
            "status": {"phase": phase, **status}}


def loss_at(step: int) -> float:
    return 9.0 if step == SPIKE_STEP else 6.0 * math.exp(-step / 1500) + 0.5


def seed(url: str) -> dict[str, str]:
    async def write() -> None:
        mirror = Mirror(url)
        await mirror.start()
        mirror.observe("ADDED", training_job(
            "support-bot", "job-1", "Succeeded", reason="Completed", message="training finished",
            startTime="2026-11-30T10:00:05Z", completionTime="2026-11-30T10:30:05Z",
            datasetStats={"examples": 120, "trainExamples": 108, "validationExamples": 12, "rejected": 2,
                          "tokens": 4100, "sha256": "ab" * 32},
            progress={"step": STEPS, "totalSteps": STEPS, "percent": 100, "loss": loss_at(STEPS)},
            metrics={"trainLoss": 0.52, "evalLoss": 0.61}, modelRef={"name": "support-bot-v1"}))
        mirror.observe("ADDED", training_job(
            "support-bot-2", "job-2", "Running", reason="Training",
            progress={"step": 40, "totalSteps": 200, "percent": 20, "loss": 3.2, "eta": "2m10s"}))
        mirror.observe("ADDED", training_job(
            "bad-data", "job-3", "Failed", reason="DatasetInvalid",
            message="dataset invalid: 3 of 10 rows rejected First errors: line 3: messages: empty; line 7: role: "
                    "unknown role 'robot'"))
        mirror.record_training_metrics("job-1", [
            {"step": s, "loss": loss_at(s), "learningRate": 0.005, "tokensPerSecond": 50.0 + s % 7,
             **({"evalLoss": loss_at(s) + 0.1} if s % 500 == 0 else {})} for s in range(1, STEPS + 1)])
        mirror.record_training_metrics("job-2", [{"step": s, "loss": 4 - s / 40} for s in range(1, 41)])
        mirror.observe("ADDED", {
            "apiVersion": "kubetune.dev/v1alpha1", "kind": "FineTunedModel",
            "metadata": {"name": "support-bot-v1", "namespace": NS, "uid": "model-1", "resourceVersion": "11",
                         "creationTimestamp": "2026-11-30T10:30:06Z",
                         "labels": {"kubetune.dev/model-name": "support-bot", "kubetune.dev/trainingjob-uid": "job-1"}},
            "spec": {"baseModel": {"name": "tiny-llama"}, "servedName": "support-bot-v1",
                     "adapter": {"pvc": {"claimName": "adapters", "path": "support-bot/x/adapter"}},
                     "origin": {"trainingJob": "support-bot"}, "serving": {"targets": [{"deployment": "vllm"}]}},
            "status": {"phase": "Serving", "adapter": {"rank": 8, "sha256": "cd" * 32}, "targets": [
                {"deployment": "vllm", "readyReplicas": 2, "loadedReplicas": 2, "pods": [
                    {"name": "vllm-a", "ip": "127.1.0.2", "loaded": True, "loadedAt": "2026-11-30T10:30:08Z"},
                    {"name": "vllm-b", "ip": "127.1.0.3", "loaded": True, "loadedAt": "2026-11-30T10:30:08Z"}]}]}})
        from datetime import UTC, datetime
        for pod in ("vllm-a", "vllm-b"):
            mirror.record_deployment(model_uid="model-1", namespace=NS, model="support-bot-v1", target="vllm",
                                     pod=pod, action="load", outcome="succeeded", latency_ms=41.5,
                                     served_name="support-bot-v1",
                                     occurred_at=datetime(2026, 11, 30, 10, 30, 8, tzinfo=UTC))
        mirror.observe("ADDED", {
            "apiVersion": "kubetune.dev/v1alpha1", "kind": "ModelComparison",
            "metadata": {"name": "bot-vs-base", "namespace": NS, "uid": "cmp-1", "resourceVersion": "12",
                         "creationTimestamp": "2026-11-30T11:00:00Z"},
            "spec": {"baseline": {"servedName": "tiny-llama"},
                     "candidate": {"fineTunedModelRef": {"name": "support-bot-v1"}}},
            "status": {"phase": "Succeeded", "completionTime": "2026-11-30T11:05:00Z", "results": {
                "baseline": {"exactMatch": 0.1, "tokenF1": 0.2, "ttftMs": {"p50": 10.0, "p95": 20.0, "p99": 30.0},
                             "latencyMs": {"p50": 100.0, "p95": 150.0, "p99": 190.0}},
                "candidate": {"exactMatch": 0.8, "tokenF1": 0.9, "ttftMs": {"p50": 12.0, "p95": 22.0, "p99": 33.0},
                              "latencyMs": {"p50": 110.0, "p95": 160.0, "p99": 200.0}},
                "differences": {"tokenF1": {"mean": 0.7, "ci95": [0.6, 0.8]}},
                "winRate": {"candidate": 0.75, "ci95": [0.6, 0.86], "wins": 3, "losses": 0, "ties": 1, "n": 4,
                            "basis": "judge"},
                "verdict": "candidate", "verdictReason": "CandidateBetter",
                "verdictMessage": "the candidate won 75% of pairs"}}})
        mirror.record_samples("cmp-1", [
            {"id": i, "messages": [{"role": "user", "content": f"question {i}?"}], "reference": "answer",
             "baseline": {"answer": f"base {i}", "exactMatch": 0.0, "ttftMs": 10.0},
             "candidate": {"answer": "answer", "exactMatch": 1.0, "ttftMs": 12.0},
             "judge": {"games": [{"a": "baseline", "b": "candidate", "verdict": "B"},
                                 {"a": "candidate", "b": "baseline", "verdict": "B" if i == 2 else "A"}],
                       "winner": "tie" if i == 2 else "candidate", "inconsistent": i == 2}}
            for i in range(4)])
        assert await mirror.flush(60)
        await mirror.stop()

    asyncio.run(write())
    return {"run": "job-1", "running": "job-2", "failed": "job-3", "model": "model-1", "comparison": "cmp-1"}
