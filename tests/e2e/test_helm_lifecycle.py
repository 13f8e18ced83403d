"""The chart's whole life on a cluster, as a platform engineer lives it, with the operator running as the chart's pod:

1. ``helm install`` of the previous release (0.1.0, packaged in tests/fixtures/charts): its CRDs lack a field the API
   has gained since (TrainingJob ``status.progress.eta``), which the API server prunes;
2. ``helm upgrade`` to this chart: its pre-upgrade hook (``kubetune crds apply``) brings the CRDs to this version
   (Helm itself never upgrades crds/), the field is kept, and two operator replicas share the Lease;
3. the quickstart's happy path (train, then hot-load on a 2-replica vLLM and answer through the adapter) served by
   the operator the chart runs (the Lease holder), which connects in-cluster with its projected service-account
   token;
4. ``helm uninstall``: the pre-delete hook deletes every kubetune object while the operator still unloads adapters,
   and nothing is left: no kubetune object, no stuck namespace;
5. ``uninstall.resources=keep``: the objects stay, freed of the finalizer, and their namespace deletes without an
   operator.

The steps build on each other, so they run in order on a cluster of their own: a cluster-wide install (and its
purge) must not reach into the namespaces of the session cluster's other tests.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubetune.api.crdgen import crd_manifests
from kubetune_devcluster import demo
from kubetune_devcluster.controlplane import LocalCluster, ensure_namespace, start_cluster
from kubetune_devcluster.helm import Helm
from kubetune_devcluster.kubeapi import ApiError, KubeREST
from kubetune_devcluster.postgres import free_port
from kubetune_devcluster.waiting import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.vllm, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
PREVIOUS_CHART = REPO / "tests" / "fixtures" / "charts" / "kubetune-0.1.0.tgz"
RELEASE = "kubetune"
NAMESPACE = "kubetune-system"
TENANT = "tenant"
GROUP_VERSION = "kubetune.dev/v1alpha1"
KUBETUNE_PLURALS = ("trainingjobs", "finetunedmodels", "modelcomparisons")
Json = dict[str, Any]

steps_passed: set[str] = set()


def after(step: str) -> None:
    if step not in steps_passed:
        pytest.skip(f"needs step {step!r}, which did not pass")


@pytest.fixture(scope="module")
def lifecycle_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    cluster = start_cluster(root=tmp_path_factory.mktemp("helm-cluster"), gpus=2)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def kube(lifecycle_cluster: LocalCluster) -> KubeREST:
    return lifecycle_cluster.api


@pytest.fixture(scope="module")
def helm(lifecycle_cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Helm:
    return Helm(lifecycle_cluster.kubeconfig, tmp_path_factory.mktemp("helm-home"))


@pytest.fixture(scope="module")
def values() -> Json:
    # Pods share this machine's network here: each replica binds its health endpoint to its own pod IP, and metrics
    # are off (two replicas cannot both bind one port; tests/unit/deploy covers them). Progress is read every second,
    # as the other e2e tests do.
    return {"health": {"address": "$(POD_IP)", "port": free_port()}, "metrics": {"port": 0},
            "settings": {"progressInterval": 1}}


def crd(kube: KubeREST, plural: str) -> Json:
    return kube.get(KubeREST.path_for("CustomResourceDefinition", name=f"{plural}.kubetune.dev"))


def progress_schema(kube: KubeREST) -> Json:
    schema = crd(kube, "trainingjobs")["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return dict(schema["properties"]["status"]["properties"]["progress"]["properties"])


def stored_eta(kube: KubeREST, name: str) -> Any:
    """Dry-run a status patch setting progress.eta (added to the API after 0.1.0) and return what would be stored."""
    path = KubeREST.path(GROUP_VERSION, "trainingjobs", TENANT, name) + "/status"
    stored = kube.request("PATCH", path, {"status": {"progress": {"step": 7, "eta": "2m"}}},
                          content_type="application/merge-patch+json", query={"dryRun": "All"})
    return stored.get("status", {}).get("progress", {}).get("eta")


def operator_pods(kube: KubeREST) -> list[Json]:
    # The operator's pods are the release's pods without a component (hook Jobs, the dashboard and Postgres have one).
    selector = f"app.kubernetes.io/name=kubetune,app.kubernetes.io/instance={RELEASE},!app.kubernetes.io/component"
    pods = kube.get(KubeREST.path_for("Pod", NAMESPACE), labelSelector=selector)["items"]
    return [p for p in pods if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")]


def leader_pod(kube: KubeREST) -> Json:
    """The operator pod holding the Lease: the one that acts."""
    lease = kube.get(KubeREST.path_for("Lease", NAMESPACE, "kubetune-operator"))
    holder = lease["spec"].get("holderIdentity")
    [pod] = [p for p in operator_pods(kube) if p["metadata"]["name"] == holder]
    return pod


def kubetune_objects(kube: KubeREST) -> list[str]:
    found = []
    for plural in KUBETUNE_PLURALS:
        try:
            items = kube.get(KubeREST.path(GROUP_VERSION, plural))["items"]
        except ApiError as e:
            if e.status == 404:
                continue
            raise
        found += [f"{plural}/{i['metadata']['namespace']}/{i['metadata']['name']}" for i in items]
    return found


def release_objects(kube: KubeREST) -> list[str]:
    """Everything labelled as this release's, hooks included, in every namespace and cluster-wide."""
    selector = f"app.kubernetes.io/instance={RELEASE}"
    kinds = ("Deployment", "ServiceAccount", "Service", "Job", "Pod", "ConfigMap", "Secret", "Role", "RoleBinding",
             "ClusterRole", "ClusterRoleBinding", "PodDisruptionBudget")
    found = []
    for kind in kinds:
        for item in kube.get(KubeREST.path_for(kind), labelSelector=selector)["items"]:
            found.append(f"{kind}/{item['metadata'].get('namespace', '')}/{item['metadata']['name']}")
    return found


def test_install_previous_release(kube: KubeREST, helm: Helm) -> None:
    # 0.1.0 runs one replica and renders a metrics port of 0 as an invalid containerPort: give it a free one.
    helm.install(RELEASE, NAMESPACE, chart=PREVIOUS_CHART, values={"metrics": {"port": free_port()}})
    [revision] = helm.history(RELEASE, NAMESPACE)
    assert (revision["chart"], revision["status"]) == ("kubetune-0.1.0", "deployed")
    assert "eta" not in progress_schema(kube), "0.1.0's CRDs predate the field"
    ensure_namespace(kube, TENANT)
    job = yaml.safe_load((REPO / "examples" / "trainingjob-minimal.yaml").read_text())
    kube.create(KubeREST.path(GROUP_VERSION, "trainingjobs", TENANT), job)
    assert stored_eta(kube, job["metadata"]["name"]) is None, "pruned by the old schema"
    steps_passed.add("install")


def test_upgrade_applies_this_versions_crds(kube: KubeREST, helm: Helm, values: Json) -> None:
    after("install")
    notes = helm.upgrade(RELEASE, NAMESPACE, values=values)
    assert f"kubectl -n {NAMESPACE} rollout status deployment/kubetune" in notes
    assert "CRDs are applied by a hook on every install and upgrade" in notes
    history = helm.history(RELEASE, NAMESPACE)
    assert [(r["revision"], r["chart"], r["status"]) for r in history] == [
        (1, "kubetune-0.1.0", "superseded"), (2, "kubetune-0.2.0", "deployed")]
    for manifest in crd_manifests():
        stored = crd(kube, manifest["spec"]["names"]["plural"])
        assert stored["spec"]["versions"] == manifest["spec"]["versions"], manifest["metadata"]["name"]
        assert "kubetune" in {m["manager"] for m in stored["metadata"]["managedFields"]}, "applied by the hook"
    job = yaml.safe_load((REPO / "examples" / "trainingjob-minimal.yaml").read_text())
    assert stored_eta(kube, job["metadata"]["name"]) == "2m", "the field added since is accepted"
    # The hook's Job, ServiceAccount and RBAC are gone once it succeeded.
    assert not [o for o in release_objects(kube) if "-hooks" in o or "-crds" in o], release_objects(kube)
    # Two replicas of the 0.2.0 template, one of them holding the Lease, and a budget that keeps one.
    pods = wait_for(lambda: (lambda ps: ps if len(ps) == 2 else None)(operator_pods(kube)), 120,
                    what="two operator pods")
    assert all({"POD_NAME", "POD_NAMESPACE"} <= {e["name"] for e in p["spec"]["containers"][0]["env"]} for p in pods)
    wait_for(lambda: leader_pod(kube), 60, what="an operator pod holding the Lease")
    assert kube.get(KubeREST.path_for("PodDisruptionBudget", NAMESPACE, "kubetune"))["spec"]["minAvailable"] == 1
    steps_passed.add("upgrade")


@pytest.mark.timeout(1800)  # the quickstart trains 200 steps and starts 2 vLLM replicas: slow on 2 shared cores
def test_happy_path_through_the_installed_operator(lifecycle_cluster: LocalCluster, kube: KubeREST,
                                                   tmp_path: Path) -> None:
    after("upgrade")
    # The quickstart, with no operator of its own: only the chart's pod can train and hot-load.
    assert demo.run(kube, None, tmp_path) == 0
    pod = leader_pod(kube)
    log = lifecycle_cluster.pod_log(NAMESPACE, pod["metadata"]["name"])
    assert "logging in in-cluster, as the pod's service account" in log, log[:3000]
    assert f"created Job {demo.NAMESPACE}/{demo.JOB}-trainer for TrainingJob {demo.JOB}" in log, log[-3000:]
    model = kube.get(KubeREST.path(GROUP_VERSION, "trainingjobs", demo.NAMESPACE, demo.JOB))["status"]["modelRef"]
    path = KubeREST.path(GROUP_VERSION, "finetunedmodels", demo.NAMESPACE, model["name"])
    # Settled: a replica that takes the Lease over (a starved leader misses its renew deadline here at times)
    # reconciles every model again from its first phase.
    wait_for(lambda: (lambda s: s.get("phase") == "Serving" and s.get("loaded") == "2/2")(
        kube.get(path).get("status") or {}), 300, interval=1, what=f"FineTunedModel {model['name']} Serving on 2/2")
    steps_passed.add("happy-path")


def test_the_comparison_ran_through_the_installed_operator(kube: KubeREST, lifecycle_cluster: LocalCluster) -> None:
    """The demo's ModelComparison (the adapter against its base on the job's held-out questions) was carried out by
    the chart's operator: its evaluator Job, a verdict, and the pod's log naming it."""
    after("happy-path")
    done = kube.get(KubeREST.path(GROUP_VERSION, "modelcomparisons", demo.NAMESPACE, demo.COMPARISON))
    assert done["status"]["phase"] == "Succeeded", done["status"]
    assert done["status"]["results"]["verdict"] in ("candidate", "baseline", "inconclusive")
    assert done["status"]["results"]["samples"] >= 1
    log = lifecycle_cluster.pod_log(NAMESPACE, leader_pod(kube)["metadata"]["name"])
    assert f"for ModelComparison {demo.COMPARISON}" in log, log[-3000:]


def served_models(pod_ip: str) -> set[str]:
    with urllib.request.urlopen(f"http://{pod_ip}:8000/v1/models", timeout=10) as response:
        return {m["id"] for m in json.load(response)["data"]}


def test_uninstall_leaves_no_kubetune_object_and_no_stuck_namespace(kube: KubeREST, helm: Helm) -> None:
    after("happy-path")
    model = kube.get(KubeREST.path(GROUP_VERSION, "trainingjobs", demo.NAMESPACE, demo.JOB))["status"]["modelRef"]
    vllm_ips = [p["status"]["podIP"] for p in kube.get(KubeREST.path_for("Pod", demo.NAMESPACE),
                                                       labelSelector="app=vllm")["items"]]
    assert all(model["name"] in served_models(ip) for ip in vllm_ips)

    helm.uninstall(RELEASE, NAMESPACE)
    assert kubetune_objects(kube) == []
    # Deleted through the operator's finalizer, which unloaded the adapter: not merely stripped of it.
    assert all(model["name"] not in served_models(ip) for ip in vllm_ips)
    wait_for(lambda: not release_objects(kube), 60, what="the release's objects to be gone")
    wait_for(lambda: not kube.get(KubeREST.path_for("Job", demo.NAMESPACE),
                                  labelSelector="kubetune.dev/trainingjob")["items"], 60,
             what="the training Job to be garbage-collected")
    for namespace in (demo.NAMESPACE, TENANT, NAMESPACE):
        kube.delete(KubeREST.path_for("Namespace", name=namespace))
    for namespace in (demo.NAMESPACE, TENANT, NAMESPACE):
        wait_for(lambda ns=namespace: kube.get_or_none(KubeREST.path_for("Namespace", name=ns)) is None, 120,
                 interval=0.5, what=f"namespace {namespace} to be deleted")
    steps_passed.add("uninstall")


def test_uninstall_keeping_resources_frees_them_of_the_finalizer(kube: KubeREST, helm: Helm, values: Json) -> None:
    after("uninstall")
    notes = helm.install(RELEASE, NAMESPACE, values={**values, "uninstall": {"resources": "keep"}})
    assert "kubetune objects are kept (their finalizer is removed)" in notes
    ensure_namespace(kube, "keep")
    ftm = yaml.safe_load((REPO / "examples" / "finetunedmodel-minimal.yaml").read_text())
    # A serving target makes its cleanup real, so the operator puts its finalizer on (the Deployment need not exist).
    ftm["spec"]["serving"] = {"targets": [{"deployment": "vllm", "port": 8000}]}
    path = KubeREST.path(GROUP_VERSION, "finetunedmodels", "keep", ftm["metadata"]["name"])
    kube.create(KubeREST.path(GROUP_VERSION, "finetunedmodels", "keep"), ftm)
    wait_for(lambda: "kubetune.dev/finalizer" in (kube.get(path)["metadata"].get("finalizers") or []), 120,
             what="the operator's finalizer")

    helm.uninstall(RELEASE, NAMESPACE)
    kept = kube.get(path)
    assert "kubetune.dev/finalizer" not in (kept["metadata"].get("finalizers") or [])
    assert not release_objects(kube)
    kube.delete(KubeREST.path_for("Namespace", name="keep"))
    wait_for(lambda: kube.get_or_none(KubeREST.path_for("Namespace", name="keep")) is None, 60, interval=0.5,
             what="namespace keep to be deleted with no operator running")
