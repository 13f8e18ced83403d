"""Defects a review of the FineTunedModel controller found, each shown fixed against the real control plane, with
Deployments that need no running vLLM (replicas 0): a failed model recovers when its target is fixed, prepare mode
checks before it patches, only marked Secrets are sent as API keys, and validation cannot hang."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubetune_devcluster import vllm_server
from kubetune_devcluster.adapters import make_adapter
from kubetune_devcluster.controlplane import LocalCluster
from kubetune_devcluster.kubeapi import KubeREST
from kubetune_devcluster.operator_process import OperatorProcess
from kubetune_devcluster.waiting import wait_for

from .conftest import BASE_MODEL_NAME, OPERATOR_ENV, grant_lease, install_chart_rbac
from .helpers import ftm_path, wait_event

pytestmark = [pytest.mark.cluster, pytest.mark.slow]
Json = dict[str, Any]


def deployment(kube: KubeREST, ns: str, name: str, tiny_model: Path, **options: Any) -> Json:
    manifest = vllm_server.vllm_deployment(
        name, tiny_model, served_name=options.pop("served_name", BASE_MODEL_NAME), replicas=0,
        extra_volumes=[{"name": "adapters", "persistentVolumeClaim": {"claimName": "adapters", "readOnly": True}}],
        extra_mounts=[{"name": "adapters", "mountPath": "/adapters", "readOnly": True}], **options)
    return kube.create(KubeREST.path_for("Deployment", ns), {**manifest,
                                                             "metadata": {**manifest["metadata"], "namespace": ns}})


def model(name: str, path: str, targets: list[Json]) -> Json:
    return {"apiVersion": "kubetune.dev/v1alpha1", "kind": "FineTunedModel", "metadata": {"name": name},
            "spec": {"baseModel": {"name": BASE_MODEL_NAME}, "adapter": {"pvc": {"claimName": "adapters",
                                                                                 "path": path}},
                     "servedName": name, "serving": {"targets": targets}}}


def wait_status(kube: KubeREST, ns: str, name: str, operator: OperatorProcess, check: Any,
                timeout: float = 180) -> Json:
    def reached() -> Json | None:
        found = kube.get_or_none(ftm_path(ns, name))
        status = (found or {}).get("status") or {}
        return status if check(status) else None

    try:
        return wait_for(reached, timeout, interval=0.2, what=f"FineTunedModel {name}")
    except AssertionError as e:
        status = json.dumps((kube.get_or_none(ftm_path(ns, name)) or {}).get("status"), indent=1)
        raise AssertionError(f"{e}\nstatus: {status}\noperator log:\n{operator.log_tail()}") from None


def test_a_model_failed_on_its_target_recovers_when_the_target_is_fixed(
        kube: KubeREST, namespace: str, operator: OperatorProcess, storage: dict[str, Path], tiny_model: Path) -> None:
    # Defect 4: RankTooHigh depends on the Deployment, but a Failed model was never looked at again, so following the
    # advice in its message (raise --max-lora-rank) did nothing.
    deployment(kube, namespace, "small", tiny_model, max_lora_rank=4)
    make_adapter(tiny_model, storage["adapters"] / "r8", rank=8, seed=1)
    kube.create(ftm_path(namespace), model("r8", "r8", [{"deployment": "small"}]))
    failed = wait_status(kube, namespace, "r8", operator, lambda s: s.get("phase") in ("Failed", "Deploying"))
    assert (failed["phase"], failed["reason"]) == ("Failed", "RankTooHigh"), failed
    assert "--max-lora-rank 4" in failed["message"]

    dep = kube.get(KubeREST.path_for("Deployment", namespace, "small"))
    args = dep["spec"]["template"]["spec"]["containers"][0]["args"]
    args[args.index("--max-lora-rank") + 1] = "8"
    kube.patch(KubeREST.path_for("Deployment", namespace, "small"),
               {"spec": {"template": {"spec": {"containers": [{"name": "vllm", "args": args}]}}}}, kind="strategic")

    fixed = wait_status(kube, namespace, "r8", operator, lambda s: s.get("phase") != "Failed", timeout=60)
    assert (fixed["phase"], fixed["reason"]) == ("Deploying", "WaitingForPods"), fixed
    kube.delete(ftm_path(namespace, "r8"))


def test_prepare_mode_checks_the_target_before_it_rolls_its_pods(
        kube: KubeREST, namespace: str, operator: OperatorProcess, storage: dict[str, Path], tiny_model: Path) -> None:
    # Defect 6: prepare: true patched the Deployment (which restarts every pod) before the base-model check, so a
    # model that could never be served there still rolled it.
    created = deployment(kube, namespace, "other-base", tiny_model, served_name="meta-llama/Llama-3.1-8B",
                         lora_ready=False)
    make_adapter(tiny_model, storage["adapters"] / "mismatch", rank=8, seed=2)
    kube.create(ftm_path(namespace), model("mismatch", "mismatch", [{"deployment": "other-base", "prepare": True}]))
    failed = wait_status(kube, namespace, "mismatch", operator, lambda s: s.get("phase") in ("Failed", "Degraded"))
    assert (failed["phase"], failed["reason"]) == ("Failed", "BaseModelMismatch"), failed
    after = kube.get(KubeREST.path_for("Deployment", namespace, "other-base"))
    assert after["metadata"]["generation"] == created["metadata"]["generation"], "the Deployment was patched"
    assert "kubetune.dev/prepared-for-lora" not in (after["metadata"].get("annotations") or {})
    kube.delete(ftm_path(namespace, "mismatch"))


def test_only_secrets_marked_for_it_are_sent_as_api_keys(
        kube: KubeREST, namespace: str, operator: OperatorProcess, storage: dict[str, Path], tiny_model: Path) -> None:
    # Defect 9: the operator, which may read every Secret, sent any Secret a model named to a Deployment of the
    # model author's choosing. Now the Secret must carry kubetune.dev/api-key: "true".
    deployment(kube, namespace, "keyed", tiny_model)
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db-password"},
              "data": {"value": base64.b64encode(b"not-an-api-key").decode()}}
    kube.create(KubeREST.path_for("Secret", namespace), secret)
    make_adapter(tiny_model, storage["adapters"] / "keyed", rank=8, seed=3)
    kube.create(ftm_path(namespace), model("keyed", "keyed", [
        {"deployment": "keyed", "apiKeySecretRef": {"name": "db-password", "key": "value"}}]))
    refused = wait_status(kube, namespace, "keyed", operator, lambda s: s.get("phase") in ("Degraded", "Deploying"))
    assert (refused["phase"], refused["reason"]) == ("Degraded", "SecretNotMarked"), refused
    assert 'kubetune.dev/api-key: "true"' in refused["message"]

    kube.patch(KubeREST.path_for("Secret", namespace, "db-password"),
               {"metadata": {"labels": {"kubetune.dev/api-key": "true"}}})
    # Secrets are not watched: the model looks again with a backoff, and finds it marked.
    accepted = wait_status(kube, namespace, "keyed", operator, lambda s: s.get("phase") == "Deploying", timeout=60)
    assert accepted["reason"] == "WaitingForPods"
    assert "not-an-api-key" not in json.dumps(kube.get(ftm_path(namespace, "keyed")))
    kube.delete(ftm_path(namespace, "keyed"))


# -- validation that cannot hang: an operator of its own, with a short validation deadline ---------------------------
VALIDATION_PREFIX = "val-"


@pytest.fixture(scope="module")
def quick_validation_operator(cluster: LocalCluster, crds: list[Json],
                              tmp_path_factory: pytest.TempPathFactory) -> Iterator[OperatorProcess]:
    """A second operator for `val-*` namespaces only (its own Lease), whose validation pods have 5 s."""
    work = tmp_path_factory.mktemp("quick-validation-operator")
    account = install_chart_rbac(cluster)
    grant_lease(cluster, account, "kubetune-val")
    kubeconfig = cluster.service_account_kubeconfig("kubetune-system", account, work / "operator.kubeconfig")
    env = {**OPERATOR_ENV, "KUBETUNE_VALIDATION_DEADLINE": "5", "KUBETUNE_LEADER_ELECTION_NAME": "kubetune-val",
           "KUBETUNE_LEADER_ELECTION_IDENTITY": "val-operator"}
    process = OperatorProcess(kubeconfig=kubeconfig, log_path=work / "operator.log", env=env,
                              namespaces=(f"{VALIDATION_PREFIX}*",)).start()
    yield process
    process.stop()


def test_a_validation_pod_that_cannot_run_is_retried_then_fails_with_the_reason(
        cluster: LocalCluster, kube: KubeREST, quick_validation_operator: OperatorProcess) -> None:
    # Defect 10: a validation pod that failed without a terminated container (never scheduled, image not pulled,
    # a deadline) left the model Validating forever. Its claim does not exist, so the pod is never scheduled.
    operator = quick_validation_operator
    ns = cluster.create_namespace(f"{VALIDATION_PREFIX}{uuid.uuid4().hex[:6]}")
    try:
        body = model("stuck", "adapter", [])
        body["spec"]["adapter"]["pvc"]["claimName"] = "no-such-claim"
        del body["spec"]["serving"]
        kube.create(ftm_path(ns), body)
        waiting = wait_status(kube, ns, "stuck", operator, lambda s: s.get("phase") == "Validating", timeout=60)
        assert waiting["reason"] in ("Validating", "Unschedulable")
        failed = wait_status(kube, ns, "stuck", operator, lambda s: s.get("phase") == "Failed", timeout=240)
        assert failed["reason"] == "ValidationFailed" and failed["validationAttempts"] == 3, failed
        assert "attempt 3 of 3: Unschedulable" in failed["message"]
        assert "no-such-claim" in failed["message"] or "not scheduled" in failed["message"], failed["message"]
        wait_event(kube, ns, "stuck", "FineTunedModel", lambda e: e["reason"] == "ValidationFailed")
        pods = kube.get(KubeREST.path_for("Pod", ns))["items"]
        assert not [p for p in pods if not p["metadata"].get("deletionTimestamp")], "no validation pod is left"
    finally:
        kube.delete(KubeREST.path_for("Namespace", name=ns))
