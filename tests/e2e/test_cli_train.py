"""kubetune train --watch, get, models and logs, run as processes against the real cluster and operator."""

from __future__ import annotations

import json
import os
import re
import signal
from pathlib import Path

import pytest
import yaml

from kubetune_devcluster.controlplane import LocalCluster
from kubetune_devcluster.kubeapi import KubeREST
from kubetune_devcluster.operator_process import OperatorProcess
from kubetune_devcluster.waiting import wait_for

from .cli import kubetune
from .conftest import BASE_MODEL_NAME, memorisation_rows, training_job
from .helpers import get_tj, pods_of, tj_path

pytestmark = [pytest.mark.cluster, pytest.mark.slow]
# Enough steps for the watch to print several training lines: the tiny model trains 60 in about 2 s.
STEPS = 300


def test_train_watch_succeeds_and_get_models_logs_show_the_job(
        cluster: LocalCluster, kube: KubeREST, namespace: str, operator: OperatorProcess, storage: dict[str, Path],
        tmp_path: Path) -> None:
    manifest = tmp_path / "job.yaml"
    manifest.write_text(yaml.safe_dump(training_job("cli-facts", hyperparameters={"maxSteps": STEPS}, output={
        "modelName": "facts", "storage": {"pvc": {"claimName": "adapters"}}})))

    run = kubetune(cluster, "train", "-f", manifest, "-n", namespace, "--watch", "--interval", "0.5")

    assert run.code == 0, run.out + run.err
    assert run.out.splitlines()[0] == "trainingjob.kubetune.dev/cli-facts created"
    # Without a terminal the view is one line per change: the loss falls over them.
    losses = [float(x) for x in re.findall(rf"^Running  Training  step \d+/{STEPS}  \d+%  loss ([0-9.]+)", run.out,
                                           re.M)]
    assert len(losses) >= 2 and losses[-1] < losses[0], run.out
    assert re.search(rf"^Succeeded  Completed  step {STEPS}/{STEPS}  100%  loss [0-9.]+", run.out, re.M), run.out
    assert re.search(rf"✓ cli-facts succeeded in \d+:\d\d: {STEPS} steps, final loss [0-9.]+", run.out), run.out
    assert "registered FineTunedModel facts-v1" in run.out

    table = kubetune(cluster, "get", "tj", "-n", namespace)
    assert table.code == 0
    assert re.search(rf"^cli-facts\s+Succeeded\s+{STEPS}/{STEPS} \(100%\)\s+[0-9.]+\s+facts-v1\s+\d", table.out,
                     re.M), table.out
    as_json = json.loads(kubetune(cluster, "get", "tj", "cli-facts", "-n", namespace, "-o", "json").out)
    assert as_json["status"] == get_tj(kube, namespace, "cli-facts")["status"]
    every_kind = kubetune(cluster, "get", "-n", namespace).out
    assert "trainingjob.kubetune.dev/cli-facts" in every_kind and "finetunedmodel.kubetune.dev/facts-v1" in every_kind
    everywhere = kubetune(cluster, "get", "ftm", "-A", "-o", "wide").out
    assert re.search(rf"^{namespace}\s+facts-v1\s+facts-v1\s+", everywhere, re.M), everywhere

    # The phase is the operator's business (the adapter is validated by a short pod); the row is the CLI's.
    models = kubetune(cluster, "models", "-n", namespace)
    assert re.search(r"^facts\s+v1\s+facts-v1\s+(Pending|Validating|Ready)\s+0/0\s+not served\s+\d", models.out,
                     re.M), models.out
    versions = json.loads(kubetune(cluster, "models", "facts", "-n", namespace, "-o", "json").out)
    assert [v["name"] for v in versions[0]["versions"]] == ["facts-v1"]

    # The log comes through the API server (pods/log), and is the node's own record of the pod's output.
    pod = pods_of(kube, namespace, "cli-facts")[0]["metadata"]["name"]
    log = kubetune(cluster, "logs", "tj", "cli-facts", "-n", namespace)
    assert log.code == 0 and log.out == cluster.pod_log(namespace, pod)
    assert f"Succeeded (Completed): trained {STEPS} steps" in log.out
    last = kubetune(cluster, "logs", "tj", "cli-facts", "-n", namespace, "--tail", "1")
    assert last.out == log.out.splitlines(keepends=True)[-1]
    followed = kubetune(cluster, "logs", "tj", "cli-facts", "-n", namespace, "-f", timeout=60)
    assert followed.code == 0 and followed.out == log.out  # a finished job: -f ends with it


def test_bad_dataset_exits_non_zero_and_prints_the_bad_lines(
        cluster: LocalCluster, kube: KubeREST, namespace: str, operator: OperatorProcess, storage: dict[str, Path],
        tmp_path: Path) -> None:
    rows = memorisation_rows(6)
    rows[1] = {"messages": [{"role": "user", "content": "hi"}, {"role": "wizard", "content": "hello"}]}
    rows[3] = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": ""}]}
    dataset = tmp_path / "bad.jsonl"
    dataset.write_text("".join(json.dumps(r) + "\n" for r in rows) + "{not json\n")

    run = kubetune(cluster, "train", "--name", "bad-data", "-n", namespace, "--base-model", BASE_MODEL_NAME,
                   "--base-model-pvc", f"models/{BASE_MODEL_NAME}", "--dataset", dataset, "--gpus", "0",
                   "--max-steps", "10", "--max-seq-length", "128", "--watch", "--interval", "0.5")

    assert run.code == 1, run.out + run.err
    assert "configmap/bad-data-dataset created" in run.out
    assert "✗ bad-data failed: DatasetInvalid" in run.out
    errors = run.out.split("first dataset errors:\n", 1)[1].splitlines()
    assert errors[0].strip().startswith("line 2:") and "wizard" in errors[0]
    assert errors[1].strip().startswith("line 4:")
    assert errors[2].strip().startswith("line 7:") and "not valid JSON" in errors[2]
    # The dataset's ConfigMap belongs to the job (deleted with it).
    configmap = kube.get(KubeREST.path_for("ConfigMap", namespace, "bad-data-dataset"))
    assert [o["name"] for o in configmap["metadata"]["ownerReferences"]] == ["bad-data"]


def kill_trainer_process(pod: str) -> int:
    """SIGKILL the training process of a pod (the process node runs it as a local process with HOSTNAME=pod)."""
    killed = 0
    for proc in Path("/proc").iterdir():
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
            cmdline = (proc / "cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        if f"HOSTNAME={pod}".encode() in environ and b"kubetune.training" in cmdline:
            os.kill(int(proc.name), signal.SIGKILL)
            killed += 1
    return killed


def test_logs_after_a_retry_come_from_the_newest_pod(
        cluster: LocalCluster, kube: KubeREST, namespace: str, operator: OperatorProcess,
        storage: dict[str, Path]) -> None:
    kube.create(tj_path(namespace), training_job("retried", hyperparameters={"maxSteps": 400}))
    first = wait_for(lambda: next((p for p in pods_of(kube, namespace, "retried")
                                   if p["status"].get("phase") == "Running"), None), 240, what="the training pod")
    wait_for(lambda: "progress on http" in cluster.pod_log(namespace, first["metadata"]["name"]), 240,
             what="the trainer to start")
    # A crash, not a deletion: the failed pod stays beside the retry's (deleted pods leave no log to mix up).
    assert kill_trainer_process(first["metadata"]["name"]) >= 1
    second = wait_for(lambda: next((p for p in pods_of(kube, namespace, "retried")
                                    if p["metadata"]["name"] != first["metadata"]["name"]
                                    and p["status"].get("phase") == "Running"), None), 240, what="the retry's pod")

    run = kubetune(cluster, "logs", "tj", "retried", "-n", namespace)

    assert run.code == 0, run.err
    assert f"# pod {second['metadata']['name']}, attempt 2 of 2" in run.err
    assert cluster.pod_log(namespace, second["metadata"]["name"]).startswith(run.out)  # it is still writing
    first_log = kubetune(cluster, "logs", "tj", "retried", "-n", namespace, "--attempt", "1")
    assert first_log.code == 0 and first_log.out == cluster.pod_log(namespace, first["metadata"]["name"])
    assert "progress on http" in first_log.out
    kube.patch(tj_path(namespace, "retried"), {"spec": {"suspend": True}})  # stop training: nothing more to see
