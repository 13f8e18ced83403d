"""End-to-end fixtures: the real operator as a separate process, and storage holding the tiny base model."""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubetune_devcluster import vllm_server
from kubetune_devcluster.controlplane import LocalCluster
from kubetune_devcluster.deploy import NAMESPACE, helm_template
from kubetune_devcluster.kubeapi import KubeREST
from kubetune_devcluster.operator_process import OperatorProcess
from kubetune_devcluster.postgres import PostgresServer, free_port
from kubetune_devcluster.waiting import wait_for

# Short intervals so a test sees progress within a short training run; production defaults are in settings.py.
OPERATOR_ENV = {"KUBETUNE_PROGRESS_INTERVAL": "1", "KUBETUNE_TRAINER_IMAGE": "kubetune/trainer:test",
                # The Lease lives where the chart puts it: the operator's own namespace.
                "KUBETUNE_LEADER_ELECTION_NAMESPACE": NAMESPACE, "KUBETUNE_LEADER_ELECTION_IDENTITY": "e2e-operator",
                # Small requests: the process node's 16 advertised CPUs hold many test pods at once.
                "KUBETUNE_TRAINER_CPU_REQUEST": "100m", "KUBETUNE_TRAINER_MEMORY_REQUEST": "256Mi",
                # The process node's pods share the host's ports, and so does every session on this machine: a
                # multi-node job's rendezvous gets a port nothing else uses.
                "KUBETUNE_RENDEZVOUS_PORT": str(free_port())}
BASE_MODEL_NAME = "tiny-llama"
# The e2e operator watches only namespaces with this prefix (a kopf glob), so the API tests that share the session's
# cluster can write TrainingJob statuses of their own without the operator reconciling them.
E2E_PREFIX = "e2e-"


@pytest.fixture
def namespace_prefix() -> str:
    return E2E_PREFIX


def install_chart_rbac(cluster: LocalCluster) -> str:
    """Apply the Helm chart's ServiceAccount and RBAC (rendered by the real helm); return the account's name."""
    cluster.create_namespace(NAMESPACE)
    account = None
    for doc in yaml.safe_load_all(helm_template(include_crds=False)):
        if doc and doc["kind"] in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"):
            cluster.api.apply(doc)
            if doc["kind"] == "ServiceAccount":
                account = doc["metadata"]["name"]
    assert account, "the chart renders no ServiceAccount"
    return account


class KopfAudit:
    """Watches every kubetune object for the whole e2e session, and records any kopf annotation or foreign finalizer
    it sees, even on objects deleted before the suite ends."""

    PLURALS = ("trainingjobs", "finetunedmodels", "modelcomparisons")

    def __init__(self, kube: KubeREST) -> None:
        self.kube = kube
        self.seen: set[str] = set()
        self.problems: list[str] = []
        self.stopped = threading.Event()
        self.threads = [threading.Thread(target=self._watch, args=(p,), daemon=True) for p in self.PLURALS]
        for thread in self.threads:
            thread.start()

    def _watch(self, plural: str) -> None:
        path = KubeREST.path("kubetune.dev/v1alpha1", plural)
        while not self.stopped.is_set():
            try:
                listed = self.kube.get(path)
                for item in listed["items"]:
                    self._check(plural, item)
                for event in self.kube.watch(path, listed["metadata"]["resourceVersion"], timeout_seconds=30):
                    if event.get("type") in ("ADDED", "MODIFIED", "DELETED"):
                        self._check(plural, event["object"])
                    if self.stopped.is_set():
                        return
            except Exception:  # the cluster going away at the end of the session, a watch expiring
                time.sleep(0.5)

    def _check(self, plural: str, item: dict[str, Any]) -> None:
        meta = item["metadata"]
        where = f"{plural} {meta.get('namespace')}/{meta['name']}"
        self.seen.add(where)
        for key in meta.get("annotations") or {}:
            if "kopf.zalando.org" in key or "last-handled-configuration" in key:
                self.problems.append(f"{where}: annotation {key}")
        for finalizer in meta.get("finalizers") or []:
            if finalizer in ("orphan", "foregroundDeletion"):
                continue  # the garbage collector's, for a delete with that propagation policy
            if finalizer != "kubetune.dev/finalizer" or plural != "finetunedmodels":
                self.problems.append(f"{where}: finalizer {finalizer}")


@pytest.fixture(scope="session")
def kopf_audit(cluster: LocalCluster, crds: list[dict[str, Any]]) -> Iterator[KopfAudit]:
    audit = KopfAudit(cluster.api)
    yield audit
    audit.stopped.set()


def grant_lease(cluster: LocalCluster, account: str, lease: str) -> None:
    """Let the chart's ServiceAccount hold one more Lease, for a test that runs an extra operator of its own (the
    chart grants only `kubetune-operator`)."""
    for doc in ({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                 "metadata": {"name": f"test-{lease}", "namespace": NAMESPACE},
                 "rules": [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "resourceNames": [lease],
                            "verbs": ["get", "update"]}]},
                {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                 "metadata": {"name": f"test-{lease}", "namespace": NAMESPACE},
                 "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": f"test-{lease}"},
                 "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE}]}):
        cluster.api.apply(doc)


@pytest.fixture(scope="session")
def mirror_database(postgres: PostgresServer) -> str:
    """The session operator's mirror: a database of the session's real PostgreSQL server."""
    return postgres.create_database("e2e_mirror")


@pytest.fixture(scope="session")
def operator(cluster: LocalCluster, crds: list[dict[str, Any]], kopf_audit: KopfAudit, mirror_database: str,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[OperatorProcess]:
    """The operator, watching all namespaces, as `kubetune operator` runs it, with the chart's RBAC and nothing
    more: it authenticates as the chart's ServiceAccount, so a verb the chart forgot fails the tests."""
    work = tmp_path_factory.mktemp("operator")
    account = install_chart_rbac(cluster)
    kubeconfig = cluster.service_account_kubeconfig(NAMESPACE, account, work / "operator.kubeconfig")
    process = OperatorProcess(kubeconfig=kubeconfig, log_path=work / "operator.log",
                              env={**OPERATOR_ENV, "KUBETUNE_DATABASE_URL": mirror_database},
                              namespaces=(f"{E2E_PREFIX}*",)).start()
    yield process
    process.stop()


def create_claim(kube: KubeREST, namespace: str, name: str) -> None:
    kube.create(KubeREST.path_for("PersistentVolumeClaim", namespace), {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})


@pytest.fixture
def storage(cluster: LocalCluster, kube: KubeREST, namespace: str, tiny_model: Path) -> dict[str, Path]:
    """Claims `models` (holding the tiny base model under tiny-llama/) and `adapters` (empty); their host paths."""
    create_claim(kube, namespace, "models")
    create_claim(kube, namespace, "adapters")
    models = cluster.volume_path(namespace, "models")
    shutil.copytree(tiny_model, models / BASE_MODEL_NAME, dirs_exist_ok=True)
    return {"models": models, "adapters": cluster.volume_path(namespace, "adapters")}


def memorisation_rows(n: int = 24) -> list[dict[str, Any]]:
    """Conversations the tiny model can learn by heart, so the loss visibly falls."""
    facts = [("colour of the sky", "blue"), ("capital of France", "Paris"), ("opposite of hot", "cold"),
             ("number after one", "two"), ("animal that barks", "dog"), ("fruit that is yellow", "banana")]
    rows = []
    for i in range(n):
        question, answer = facts[i % len(facts)]
        rows.append({"messages": [{"role": "user", "content": f"What is the {question}?"},
                                  {"role": "assistant", "content": f"The {question} is {answer}."}]})
    return rows


def training_job(name: str, rows: list[dict[str, Any]] | None = None, **overrides: Any) -> dict[str, Any]:
    """A TrainingJob for the tiny model on an inline dataset, small enough to train in seconds on CPU."""
    spec: dict[str, Any] = {
        "baseModel": {"name": BASE_MODEL_NAME, "source": {"pvc": {"claimName": "models", "path": BASE_MODEL_NAME}}},
        "dataset": {"format": "openai", "source": {"inline": rows if rows is not None else memorisation_rows()},
                    "validationSplit": 0.1},
        "lora": {"r": 8, "alpha": 16, "targetModules": ["q_proj", "k_proj", "v_proj", "o_proj"]},
        "hyperparameters": {"maxSteps": 60, "batchSize": 4, "learningRate": 0.005, "maxSeqLength": 128,
                            "warmupRatio": 0.0, "lrScheduler": "constant"},
        "resources": {"gpus": 0},
        "checkpoint": {"everySteps": 20, "keep": 2},
        "output": {"modelName": "support-bot", "storage": {"pvc": {"claimName": "adapters"}}},
        "backoffLimit": 2,
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(spec.get(key), dict):
            spec[key] = {**spec[key], **value}
        else:
            spec[key] = value
    return {"apiVersion": "kubetune.dev/v1alpha1", "kind": "TrainingJob", "metadata": {"name": name}, "spec": spec}


@pytest.fixture(scope="session")
def serving_ns(cluster: LocalCluster, kube: KubeREST, operator: OperatorProcess, tiny_model: Path) -> Iterator[str]:
    """One namespace for the session's serving tests: claims, a LoRA-ready vLLM Deployment `vllm` (2 replicas)
    mounting `adapters`; vLLM takes long to start, so the serving and comparison tests share it."""
    ns = cluster.create_namespace(f"{E2E_PREFIX}serving-{uuid.uuid4().hex[:6]}")
    create_claim(kube, ns, "models")
    create_claim(kube, ns, "adapters")
    shutil.copytree(tiny_model, cluster.volume_path(ns, "models") / BASE_MODEL_NAME)
    deployment = vllm_server.vllm_deployment(
        "vllm", tiny_model, served_name=BASE_MODEL_NAME, replicas=2, max_lora_rank=8,
        extra_volumes=[{"name": "adapters", "persistentVolumeClaim": {"claimName": "adapters", "readOnly": True}}],
        extra_mounts=[{"name": "adapters", "mountPath": "/adapters", "readOnly": True}])
    kube.create(KubeREST.path_for("Deployment", ns), {**deployment, "metadata": {**deployment["metadata"],
                                                                                 "namespace": ns}})
    wait_for(lambda: kube.get(KubeREST.path_for("Deployment", ns, "vllm"))["status"].get("readyReplicas") == 2,
             400, interval=1, what="2 ready vLLM replicas")
    yield ns
    kube.delete(KubeREST.path_for("Namespace", name=ns))


