"""Two operator replicas with leader election: only the Lease's holder acts; when it dies mid-training or mid-rollout
the other takes over within the lease duration and finishes the work, with exactly one Job and one FineTunedModel,
and the adapter loaded on every vLLM pod."""

from __future__ import annotations

import shutil
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubetune_devcluster import vllm_server
from kubetune_devcluster.controlplane import LocalCluster
from kubetune_devcluster.kubeapi import KubeREST
from kubetune_devcluster.operator_process import OperatorProcess
from kubetune_devcluster.waiting import wait_for

from .conftest import BASE_MODEL_NAME, OPERATOR_ENV, create_claim, grant_lease, install_chart_rbac, training_job
from .helpers import ftm_path, get_tj, jobs_of, logged_steps, models_of, tj_path

pytestmark = [pytest.mark.cluster, pytest.mark.vllm, pytest.mark.slow]
HA_PREFIX = "ha-"
LEASE = "kubetune-ha"
LEASE_SECONDS = 6
Json = dict[str, Any]


@pytest.fixture
def replicas(cluster: LocalCluster, crds: list[Json], tmp_path: Path) -> Iterator[dict[str, OperatorProcess]]:
    """Two operators for `ha-*` namespaces sharing one Lease, as the chart's two replicas do."""
    account = install_chart_rbac(cluster)
    grant_lease(cluster, account, LEASE)
    kubeconfig = cluster.service_account_kubeconfig("kubetune-system", account, tmp_path / "operator.kubeconfig")
    # Both replicas mirror into one embedded SQLite file (as the chart's replicas share its claim); only the leader
    # writes.
    env = {**OPERATOR_ENV, "KUBETUNE_LEADER_ELECTION_NAME": LEASE, "KUBETUNE_LEASE_DURATION": str(LEASE_SECONDS),
           "KUBETUNE_RENEW_DEADLINE": "4", "KUBETUNE_LEASE_RETRY_PERIOD": "1",
           "KUBETUNE_STATE_DIR": str(tmp_path / "state")}
    operators = {name: OperatorProcess(kubeconfig=kubeconfig, log_path=tmp_path / f"{name}.log",
                                       env={**env, "KUBETUNE_LEADER_ELECTION_IDENTITY": name},
                                       namespaces=(f"{HA_PREFIX}*",)) for name in ("a", "b")}
    operators["a"].start()
    wait_for(lambda: holder(cluster.api) == "a", 30, what="replica a to lead")
    operators["b"].start()
    yield operators
    for process in operators.values():
        process.stop()


def holder(kube: KubeREST) -> str | None:
    lease = kube.get_or_none(KubeREST.path_for("Lease", "kubetune-system", LEASE))
    return ((lease or {}).get("spec") or {}).get("holderIdentity")


def logs(operators: dict[str, OperatorProcess]) -> str:
    return "\n".join(f"--- {n} ---\n{p.log_tail(3000)}" for n, p in operators.items())


def test_the_standby_finishes_training_and_rollout_when_the_leader_dies(
        cluster: LocalCluster, kube: KubeREST, replicas: dict[str, OperatorProcess], tiny_model: Path,
        tmp_path: Path) -> None:
    ns = cluster.create_namespace(f"{HA_PREFIX}{uuid.uuid4().hex[:6]}")
    try:
        create_claim(kube, ns, "models")
        create_claim(kube, ns, "adapters")
        shutil.copytree(tiny_model, cluster.volume_path(ns, "models") / BASE_MODEL_NAME)
        deployment = vllm_server.vllm_deployment(
            "vllm", tiny_model, served_name=BASE_MODEL_NAME, replicas=2, max_lora_rank=8,
            extra_volumes=[{"name": "adapters", "persistentVolumeClaim": {"claimName": "adapters",
                                                                          "readOnly": True}}],
            extra_mounts=[{"name": "adapters", "mountPath": "/adapters", "readOnly": True}])
        kube.create(KubeREST.path_for("Deployment", ns), {**deployment, "metadata": {**deployment["metadata"],
                                                                                     "namespace": ns}})
        # The standby does nothing: it watches nothing until it leads.
        assert "became the leader" not in replicas["b"].log_tail(100_000)

        kube.create(tj_path(ns), training_job("ha", hyperparameters={"maxSteps": 200},
                                              serving={"targets": [{"deployment": "vllm"}]}))
        wait_for(lambda: ((get_tj(kube, ns, "ha").get("status") or {}).get("progress") or {}).get("step", 0) >= 20,
                 300, interval=0.2, what="training to be under way")

        # The leader dies mid-training: the standby takes the Lease once it expires, and carries on.
        killed_at = time.monotonic()
        replicas["a"].kill()
        wait_for(lambda: holder(kube) == "b", LEASE_SECONDS * 3, interval=0.1, what="replica b to take over")
        takeover = time.monotonic() - killed_at
        assert takeover <= LEASE_SECONDS + 2, f"takeover took {takeover:.1f}s"
        replicas["a"].start()  # back as the standby

        def registered() -> Json | None:
            models = models_of(kube, ns, "ha")
            return models[0] if models else None

        wait_for(registered, 400, interval=0.1, what="the FineTunedModel")
        # ... and dies mid-rollout: a takes over and finishes loading the adapter.
        replicas["b"].kill()
        wait_for(lambda: holder(kube) == "a", LEASE_SECONDS * 3, interval=0.1, what="replica a to take over")

        wait_for(lambda: kube.get(KubeREST.path_for("Deployment", ns, "vllm"))["status"].get("readyReplicas") == 2,
                 400, interval=1, what="2 ready vLLM replicas")
        try:
            model = wait_for(lambda: next((m for m in models_of(kube, ns, "ha")
                                           if (m.get("status") or {}).get("phase") == "Serving"), None),
                             300, interval=0.2, what="the model to be Serving")
        except AssertionError as e:
            raise AssertionError(f"{e}\n{logs(replicas)}") from None
        name = model["metadata"]["name"]
        assert model["status"]["loaded"] == "2/2"
        pods = [p for p in kube.get(KubeREST.path_for("Pod", ns), labelSelector="app=vllm")["items"]
                if not p["metadata"].get("deletionTimestamp")]
        for pod in pods:
            assert name in {m["id"] for m in vllm_server.models(f"http://{pod['status']['podIP']}:8000")}
        status = get_tj(kube, ns, "ha")["status"]
        assert status["phase"] == "Succeeded" and status["metrics"]["steps"] == 200
        assert len(jobs_of(kube, ns, "ha")) == 1, "exactly one Job"
        assert len(models_of(kube, ns, "ha")) == 1, "exactly one FineTunedModel"
        assert len(kube.get(ftm_path(ns))["items"]) == 1

        # The same history on the embedded SQLite mirror as on Postgres, across two takeovers.
        database = tmp_path / "state" / "kubetune.db"
        uid = get_tj(kube, ns, "ha")["metadata"]["uid"]

        def steps() -> list[int]:
            with sqlite3.connect(database) as conn:
                return [r[0] for r in conn.execute("select step from training_metrics where job_uid = ? order by "
                                                   "step", (uid,))]

        wait_for(lambda: steps() == logged_steps(200), 60, interval=1, what="the loss curve in SQLite")
        def loaded_on() -> set[str]:
            with sqlite3.connect(database) as conn:
                return {p for (p,) in conn.execute("select pod from deployment_history where model_uid = ? and action "
                                                   "= 'load' and outcome = 'succeeded'", (model["metadata"]["uid"],))}

        # The mirror is written a moment after the status (its lag goal: p99 < 1 s).
        serving = {p["metadata"]["name"] for p in pods}
        wait_for(lambda: loaded_on() == serving, 30, interval=0.5, what="the adapter's loads in SQLite")
    finally:
        kube.delete(KubeREST.path_for("Namespace", name=ns))
