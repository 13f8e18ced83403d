"""`kubetune crds apply` and `kubetune crds purge` against the real API server, as the chart's hooks run them (there
with the pod's service account; here with the admin kubeconfig, the hooks' RBAC is exercised by tests/e2e)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubetune_devcluster.controlplane import LocalCluster
from kubetune_devcluster.kubeapi import KubeREST

pytestmark = pytest.mark.cluster

REPO = Path(__file__).resolve().parents[3]
GROUP_VERSION = "kubetune.dev/v1alpha1"
FINALIZER = "kubetune.dev/finalizer"


def kubetune(cluster: LocalCluster, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kubetune.cli", "crds", *args, "--kubeconfig",
                           str(cluster.kubeconfig)], capture_output=True, text=True, timeout=300)


def test_apply_is_idempotent_and_waits_until_served(cluster: LocalCluster, crds: list[dict[str, Any]]) -> None:
    dry = kubetune(cluster, "apply", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.count("validated (v1alpha1)") == 3
    for _ in range(2):
        done = kubetune(cluster, "apply")
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[-1] == "established"
    for crd in crds:
        stored = cluster.api.get(KubeREST.path_for("CustomResourceDefinition", name=crd["metadata"]["name"]))
        assert "kubetune" in {m["manager"] for m in stored["metadata"]["managedFields"]}


def create(kube: KubeREST, namespace: str, example: str, finalizer: bool = False) -> str:
    doc = yaml.safe_load((REPO / "examples" / example).read_text())
    if finalizer:  # as the operator leaves it: no operator runs here to remove it
        doc["metadata"]["finalizers"] = [FINALIZER, "example.com/other"]
    plural = doc["kind"].lower() + "s"
    kube.create(KubeREST.path(GROUP_VERSION, plural, namespace), doc)
    return str(KubeREST.path(GROUP_VERSION, plural, namespace, doc["metadata"]["name"]))


def test_purge_deletes_and_then_frees_what_no_operator_finalizes(cluster: LocalCluster, kube: KubeREST,
                                                                 namespace: str, crds: list[dict[str, Any]]) -> None:
    job = create(kube, namespace, "trainingjob-minimal.yaml")
    model = create(kube, namespace, "finetunedmodel-minimal.yaml", finalizer=True)
    done = kubetune(cluster, "purge", "--namespace", namespace, "--timeout", "2")
    assert done.returncode == 0, done.stderr
    assert kube.get_or_none(job) is None
    # Still there: another controller's finalizer is not ours to remove; ours is gone.
    left = kube.get(model)
    assert left["metadata"]["finalizers"] == ["example.com/other"] and left["metadata"]["deletionTimestamp"]
    assert done.stdout.splitlines()[-1] == "deleted 2 kubetune objects; removed the finalizer from 1"
    kube.patch(model, {"metadata": {"finalizers": None}})


def test_purge_keep_leaves_the_objects_without_our_finalizer(cluster: LocalCluster, kube: KubeREST,
                                                             namespace: str, crds: list[dict[str, Any]]) -> None:
    model = create(kube, namespace, "finetunedmodel-minimal.yaml", finalizer=True)
    done = kubetune(cluster, "purge", "--namespace", namespace, "--keep")
    assert done.returncode == 0, done.stderr
    kept = kube.get(model)
    assert "deletionTimestamp" not in kept["metadata"]
    assert kept["metadata"]["finalizers"] == ["example.com/other"]
    kube.patch(model, {"metadata": {"finalizers": None}})
