"""Suspension, pod loss and operator crashes: training resumes from checkpoints and the state converges."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from kubetune_devcluster.kubeapi import KubeREST
from kubetune_devcluster.operator_process import OperatorProcess
from kubetune_devcluster.waiting import wait_for

from .conftest import training_job
from .helpers import (
    checkpoint_step,
    get_tj,
    jobs_of,
    models_of,
    pods_of,
    tj_path,
    trainer_results,
    wait_phase,
)

pytestmark = [pytest.mark.cluster, pytest.mark.slow]
# Long enough that a suspension or a kill lands mid-training even on an idle machine (about 30 steps/s), short
# enough to finish in time when the other test session shares the two cores.
LONG = {"maxSteps": 400}
FINISH = 420


def running_pods(kube: KubeREST, namespace: str, name: str) -> list[dict]:
    return [p for p in pods_of(kube, namespace, name) if p["status"].get("phase") == "Running"]


def test_suspend_stops_the_pod_and_resume_continues_from_the_checkpoint(
        kube: KubeREST, namespace: str, operator: OperatorProcess, storage: dict[str, Path]) -> None:
    kube.create(tj_path(namespace), training_job("pausable", hyperparameters=LONG))
    wait_for(lambda: checkpoint_step(kube, namespace, "pausable") >= 20, 240, interval=0.2,
             what="a checkpoint at step 20")

    kube.patch(tj_path(namespace, "pausable"), {"spec": {"suspend": True}})
    suspended = wait_phase(kube, namespace, "pausable", ("Suspended",), operator=operator, timeout=90)
    wait_for(lambda: not running_pods(kube, namespace, "pausable"), 60, what="the training pod to stop")
    assert jobs_of(kube, namespace, "pausable")[0]["spec"]["suspend"] is True
    saved = checkpoint_step(kube, namespace, "pausable")
    assert {c["type"]: c["status"] for c in suspended["status"]["conditions"]}["Suspended"] == "True"

    kube.patch(tj_path(namespace, "pausable"), {"spec": {"suspend": False}})
    done = wait_phase(kube, namespace, "pausable", ("Succeeded", "Failed"), operator=operator,
                      timeout=FINISH)["status"]
    assert done["phase"] == "Succeeded", done
    final = trainer_results(kube, namespace, "pausable")[-1]
    assert final["resumedFromStep"] is not None and final["resumedFromStep"] >= saved >= 20
    assert final["metrics"]["steps"] == LONG["maxSteps"]


def test_a_killed_training_pod_is_retried_from_the_checkpoint(
        kube: KubeREST, namespace: str, operator: OperatorProcess, storage: dict[str, Path]) -> None:
    kube.create(tj_path(namespace), training_job("crashy", hyperparameters=LONG))
    wait_for(lambda: checkpoint_step(kube, namespace, "crashy") >= 20, 240, interval=0.2,
             what="a checkpoint at step 20")
    saved = checkpoint_step(kube, namespace, "crashy")
    victim = running_pods(kube, namespace, "crashy")[0]["metadata"]["name"]
    # Force deletion: the process is SIGKILLed, no chance to save a last checkpoint.
    kube.delete(KubeREST.path_for("Pod", namespace, victim), {"gracePeriodSeconds": 0})

    done = wait_phase(kube, namespace, "crashy", ("Succeeded", "Failed"), operator=operator,
                      timeout=FINISH)["status"]
    assert done["phase"] == "Succeeded", done
    assert done["failedAttempts"] == 1
    final = trainer_results(kube, namespace, "crashy")[-1]
    assert final["resumedFromStep"] >= saved >= 20
    assert len(jobs_of(kube, namespace, "crashy")) == 1


class ChildCounter(threading.Thread):
    """Samples, every 50 ms, how many Jobs and FineTunedModels the TrainingJob has; remembers the maximum."""

    def __init__(self, kube: KubeREST, namespace: str, name: str) -> None:
        super().__init__(daemon=True)
        self.kube, self.namespace, self.name = kube, namespace, name
        self.max_jobs = self.max_models = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.05):
            self.max_jobs = max(self.max_jobs, len(jobs_of(self.kube, self.namespace, self.name)))
            self.max_models = max(self.max_models, len(models_of(self.kube, self.namespace, self.name)))


def test_killing_the_operator_at_every_point_of_the_lifecycle_converges(
        kube: KubeREST, namespace: str, operator: OperatorProcess, storage: dict[str, Path]) -> None:
    counter = ChildCounter(kube, namespace, "survivor")
    counter.start()
    try:
        # 1. Down when the TrainingJob is applied.
        operator.kill()
        kube.create(tj_path(namespace), training_job("survivor", hyperparameters={"maxSteps": 200}))
        operator.start()
        # 2. Killed as soon as the Job exists, before its status is written.
        wait_for(lambda: jobs_of(kube, namespace, "survivor"), 60, interval=0.02, what="the Job")
        operator.kill()
        operator.start()
        # 3. Killed while training, with the progress daemon running.
        wait_for(lambda: (get_tj(kube, namespace, "survivor").get("status", {}).get("progress") or {}).get("step"),
                 120, interval=0.1, what="progress")
        operator.kill()
        # 4. Down while the Job finishes: the success is observed only after the restart.
        wait_for(lambda: any(c["type"] == "Complete" and c["status"] == "True"
                             for c in jobs_of(kube, namespace, "survivor")[0].get("status", {}).get("conditions", [])),
                 FINISH, interval=0.1, what="the Job to complete")
        operator.start()
        # 5. Killed the moment the FineTunedModel appears, before the TrainingJob records it.
        wait_for(lambda: models_of(kube, namespace, "survivor"), 60, interval=0.01, what="the FineTunedModel")
        operator.kill()
        # 6. Twice more in quick succession while it converges.
        operator.start()
        operator.kill()
        operator.start()
        done = wait_phase(kube, namespace, "survivor", ("Succeeded", "Failed"), operator=operator)["status"]
    finally:
        counter.stop.set()
        counter.join()
        if operator.proc is None or operator.proc.poll() is not None:
            operator.start()
    assert done["phase"] == "Succeeded", done
    assert counter.max_jobs == 1
    assert counter.max_models == 1
    models = models_of(kube, namespace, "survivor")
    assert [m["metadata"]["name"] for m in models] == [done["modelRef"]["name"]] == ["support-bot-v1"]
    assert len(jobs_of(kube, namespace, "survivor")) == 1
