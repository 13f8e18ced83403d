"""FineTunedModel on a real vLLM CPU Deployment of 2 replicas: hot-load with no restart, follow pods that come and
go, unload on delete, refuse broken adapters, and keep API keys secret."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest

from kubetune_devcluster import vllm_server
from kubetune_devcluster.adapters import make_adapter
from kubetune_devcluster.controlplane import LocalCluster
from kubetune_devcluster.kubeapi import KubeREST
from kubetune_devcluster.operator_process import OperatorProcess
from kubetune_devcluster.waiting import wait_for

from .conftest import BASE_MODEL_NAME, training_job
from .helpers import ftm_path, tj_path, wait_event, wait_phase
from .serving import finetuned_model, get_ftm, served_ids, vllm_pods, wait_ftm_phase

pytestmark = [pytest.mark.cluster, pytest.mark.vllm, pytest.mark.slow]
PROMPT = "What is the capital of France?"
API_KEY = "sk-kubetune-test-5f1d2c"
Json = dict[str, Any]


def restarts(kube: KubeREST, ns: str) -> int:
    return sum(s.get("restartCount", 0) for p in vllm_pods(kube, ns, ready_only=False)
               for s in p["status"].get("containerStatuses") or [])


def test_trained_adapter_is_hot_loaded_on_every_replica_and_follows_pods(
        kube: KubeREST, serving_ns: str, operator: OperatorProcess) -> None:
    ns = serving_ns
    pods_before = {p["metadata"]["name"] for p in vllm_pods(kube, ns)}
    base_outputs = {p["metadata"]["name"]: vllm_server.completion(f"http://{p['status']['podIP']}:8000",
                                                                  BASE_MODEL_NAME, PROMPT)
                    for p in vllm_pods(kube, ns)}
    kube.create(tj_path(ns), training_job("support-bot", hyperparameters={"maxSteps": 200},
                                          serving={"targets": [{"deployment": "vllm", "port": 8000}]}))
    tj = wait_phase(kube, ns, "support-bot", ("Succeeded", "Failed"), operator=operator, timeout=300)
    assert tj["status"]["phase"] == "Succeeded", tj["status"]
    name = tj["status"]["modelRef"]["name"]

    ftm = wait_ftm_phase(kube, ns, name, ("Serving", "Failed", "Degraded"), operator)
    status = ftm["status"]
    assert status["phase"] == "Serving", status
    assert status["loaded"] == "2/2"
    assert status["adapter"]["rank"] == 8 and status["adapter"]["baseModel"] == BASE_MODEL_NAME
    assert len(status["adapter"]["sha256"]) == 64
    target = status["targets"][0]
    assert (target["deployment"], target["readyReplicas"], target["loadedReplicas"]) == ("vllm", 2, 2)
    assert all(p["loaded"] and p["loadedAt"] for p in target["pods"])

    # Served by name on each pod, and different from the base model's answer; nothing restarted.
    for pod in vllm_pods(kube, ns):
        assert name in served_ids(pod)
        tuned = vllm_server.completion(f"http://{pod['status']['podIP']}:8000", name, PROMPT)
        assert tuned != base_outputs[pod["metadata"]["name"]], (tuned, base_outputs)
    assert {p["metadata"]["name"] for p in vllm_pods(kube, ns)} == pods_before
    assert restarts(kube, ns) == 0

    # A replaced pod gets the adapter as soon as it is Ready (a pod watch, not the 60 s resync).
    victim = sorted(pods_before)[0]
    kube.delete(KubeREST.path_for("Pod", ns, victim))
    replacement = wait_for(lambda: next((p for p in vllm_pods(kube, ns) if p["metadata"]["name"] not in pods_before),
                                        None), 400, interval=0.05, what="the replacement pod to turn Ready")
    ready_at = time.monotonic()
    wait_for(lambda: name in served_ids(replacement), 30, interval=0.05, what="the adapter on the replacement")
    latency = time.monotonic() - ready_at
    print(f"replacement pod had the adapter {latency:.2f}s after the test saw it Ready")
    assert latency < 15, "far slower than a watch: the replacement waited for the periodic resync"

    # Scale out: the third pod gets it too.
    kube.patch(KubeREST.path_for("Deployment", ns, "vllm"), {"spec": {"replicas": 3}})
    wait_for(lambda: len(vllm_pods(kube, ns)) == 3, 400, interval=0.5, what="3 ready replicas")
    wait_for(lambda: all(name in served_ids(p) for p in vllm_pods(kube, ns)), 30, interval=0.1,
             what="the adapter on all 3 pods")
    wait_for(lambda: get_ftm(kube, ns, name)["status"].get("loaded") == "3/3", 30, what="status 3/3")

    # Deleting the FineTunedModel unloads it from every pod.
    kube.delete(ftm_path(ns, name))
    wait_for(lambda: kube.get_or_none(ftm_path(ns, name)) is None, 60, what="the FineTunedModel to be gone")
    for pod in vllm_pods(kube, ns):
        assert name not in served_ids(pod)
        assert BASE_MODEL_NAME in served_ids(pod)
    kube.patch(KubeREST.path_for("Deployment", ns, "vllm"), {"spec": {"replicas": 2}})


@pytest.mark.parametrize(("case", "reason"), [
    ("rank-too-high", "RankTooHigh"),
    ("wrong-base", "BaseModelMismatch"),
    ("files-missing", "AdapterFilesMissing"),
])
def test_broken_adapter_fails_by_reason_and_loads_nothing(
        kube: KubeREST, serving_ns: str, operator: OperatorProcess, cluster: LocalCluster, tiny_model: Path,
        case: str, reason: str) -> None:
    ns = serving_ns
    adapters = cluster.volume_path(ns, "adapters")
    # A good adapter keeps serving throughout.
    good = f"good-{case}"
    make_adapter(tiny_model, adapters / good, rank=8, seed=1)
    kube.create(ftm_path(ns), finetuned_model(good, good, [{"deployment": "vllm"}]))
    assert wait_ftm_phase(kube, ns, good, ("Serving", "Failed", "Degraded"), operator)["status"]["phase"] == "Serving"
    good_before = {p["metadata"]["name"]: vllm_server.completion(f"http://{p['status']['podIP']}:8000", good, PROMPT)
                   for p in vllm_pods(kube, ns)}

    bad = f"bad-{case}"
    if case == "rank-too-high":
        make_adapter(tiny_model, adapters / bad, rank=16, seed=2)
    elif case == "wrong-base":
        make_adapter(tiny_model, adapters / bad, rank=8, seed=3, base_name="meta-llama/Llama-3.1-8B")
    else:
        (adapters / bad).mkdir()
        (adapters / bad / "README.md").write_text("no weights here")
    kube.create(ftm_path(ns), finetuned_model(bad, bad, [{"deployment": "vllm"}]))

    failed = wait_ftm_phase(kube, ns, bad, ("Failed", "Serving"), operator)["status"]
    assert (failed["phase"], failed["reason"]) == ("Failed", reason), failed
    ready = {c["type"]: c for c in failed["conditions"]}["Ready"]
    assert (ready["status"], ready["reason"]) == ("False", reason)
    assert not any(t.get("loadedReplicas") or t.get("pods") for t in failed.get("targets") or []), \
        "no load may be attempted for a broken adapter"
    for pod in vllm_pods(kube, ns):
        assert bad not in served_ids(pod)
        assert vllm_server.completion(f"http://{pod['status']['podIP']}:8000", good, PROMPT) == \
            good_before[pod["metadata"]["name"]]
    wait_event(kube, ns, bad, "FineTunedModel", lambda e: e["reason"] == reason and e["type"] == "Warning")
    for name in (bad, good):
        kube.delete(ftm_path(ns, name))


def test_target_with_an_api_key_is_served_and_the_key_never_leaks(
        kube: KubeREST, serving_ns: str, operator: OperatorProcess, cluster: LocalCluster, tiny_model: Path) -> None:
    ns = serving_ns
    # Marked for this use: kubetune sends no other Secret to a server.
    kube.create(KubeREST.path_for("Secret", ns), {"apiVersion": "v1", "kind": "Secret", "metadata": {
        "name": "vllm", "labels": {"kubetune.dev/api-key": "true"}},
        "data": {"api-key": base64.b64encode(API_KEY.encode()).decode()}})
    deployment = vllm_server.vllm_deployment(
        "vllm-secured", tiny_model, served_name=BASE_MODEL_NAME, replicas=1, api_key_secret=("vllm", "api-key"),
        extra_volumes=[{"name": "adapters", "persistentVolumeClaim": {"claimName": "adapters", "readOnly": True}}],
        extra_mounts=[{"name": "adapters", "mountPath": "/adapters", "readOnly": True}])
    # vLLM's /health stays open with --api-key, so the readiness probe still works.
    kube.create(KubeREST.path_for("Deployment", ns), {**deployment, "metadata": {**deployment["metadata"],
                                                                                 "namespace": ns}})
    adapters = cluster.volume_path(ns, "adapters")
    make_adapter(tiny_model, adapters / "secured", rank=8, seed=4)
    kube.create(ftm_path(ns), finetuned_model("secured", "secured", [
        {"deployment": "vllm-secured", "apiKeySecretRef": {"name": "vllm", "key": "api-key"}}]))
    wait_for(lambda: kube.get(KubeREST.path_for("Deployment", ns, "vllm-secured"))["status"].get("readyReplicas"),
             400, interval=1, what="the secured vLLM replica")
    ftm = wait_ftm_phase(kube, ns, "secured", ("Serving", "Failed"), operator, timeout=120)
    assert ftm["status"]["phase"] == "Serving", ftm["status"]
    pod = vllm_pods(kube, ns, app="vllm-secured")[0]
    with pytest.raises(Exception, match="401"):
        served_ids(pod)  # the key is really required
    assert "secured" in served_ids(pod, API_KEY)

    leaks = {
        "status": json.dumps(get_ftm(kube, ns, "secured")),
        "events": json.dumps(kube.get(KubeREST.path_for("Event", ns))),
        "operator log": operator.log_path.read_text(),
    }
    for where, text in leaks.items():
        assert API_KEY not in text, f"the API key leaked into the {where}"
    kube.delete(ftm_path(ns, "secured"))
    wait_for(lambda: "secured" not in served_ids(pod, API_KEY), 60, what="unload with the API key")


def test_target_not_lora_ready_says_what_to_add_and_prepare_mode_fixes_it(
        kube: KubeREST, serving_ns: str, operator: OperatorProcess, cluster: LocalCluster, tiny_model: Path) -> None:
    ns = serving_ns
    plain = vllm_server.vllm_deployment("vllm-plain", tiny_model, served_name=BASE_MODEL_NAME, replicas=0,
                                        lora_ready=False)
    kube.create(KubeREST.path_for("Deployment", ns), {**plain, "metadata": {**plain["metadata"], "namespace": ns}})
    make_adapter(tiny_model, cluster.volume_path(ns, "adapters") / "plain", rank=8, seed=5)
    kube.create(ftm_path(ns), finetuned_model("plain", "plain", [{"deployment": "vllm-plain"}]))

    degraded = wait_ftm_phase(kube, ns, "plain", ("Degraded", "Serving", "Failed"), operator)["status"]
    assert (degraded["phase"], degraded["reason"]) == ("Degraded", "TargetNotLoraReady"), degraded
    for needed in ("--enable-lora", "VLLM_ALLOW_RUNTIME_LORA_UPDATING=True", "prepare: true"):
        assert needed in degraded["message"]
    assert degraded["targets"][0]["loraReady"] is False

    # Opt in: the operator patches the Deployment once (flags, env, the adapter claim); its pods then get the adapter.
    kube.patch(ftm_path(ns, "plain"), {"spec": {"serving": {"targets": [{"deployment": "vllm-plain",
                                                                         "prepare": True}]}}})

    def patched() -> dict[str, Any] | None:
        container = kube.get(KubeREST.path_for("Deployment", ns, "vllm-plain"))["spec"]["template"]["spec"][
            "containers"][0]
        return container if "--enable-lora" in container["args"] else None

    container = wait_for(patched, 60, what="the Deployment to be prepared")
    assert {"name": "VLLM_ALLOW_RUNTIME_LORA_UPDATING", "value": "True"} in container["env"]
    assert any(m["mountPath"] == "/adapters/adapters" for m in container["volumeMounts"])
    kube.patch(KubeREST.path_for("Deployment", ns, "vllm-plain"), {"spec": {"replicas": 1}})
    serving = wait_ftm_phase(kube, ns, "plain", ("Serving",), operator, timeout=400)["status"]
    assert serving["loaded"] == "1/1"
    assert "plain" in served_ids(vllm_pods(kube, ns, app="vllm-plain")[0])
    kube.delete(ftm_path(ns, "plain"))
    kube.patch(KubeREST.path_for("Deployment", ns, "vllm-plain"), {"spec": {"replicas": 0}})


def operator_metric(operator: OperatorProcess, name: str) -> float:
    """A sample of the operator's own Prometheus metrics (summed over labels)."""
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{operator.metrics_port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name) and not line.startswith("#"))


def test_many_adapters_on_one_deployment_share_one_watch_and_one_models_read_per_pod(
        kube: KubeREST, serving_ns: str, operator: OperatorProcess, cluster: LocalCluster, tiny_model: Path) -> None:
    # Defect 11: N adapters on one Deployment opened N pod watches and made N x pods /v1/models calls per pod event,
    # and every reconcile rewrote the status even when nothing had changed.
    ns = serving_ns
    adapters = cluster.volume_path(ns, "adapters")
    names = [f"fan-{i}" for i in range(3)]
    for i, name in enumerate(names):
        make_adapter(tiny_model, adapters / name, rank=8, seed=10 + i)
        kube.create(ftm_path(ns, None), finetuned_model(name, name, [{"deployment": "vllm"}]))
    for name in names:
        assert wait_ftm_phase(kube, ns, name, ("Serving", "Failed", "Degraded"), operator)["status"]["phase"] == \
            "Serving"
    watches = operator_metric(operator, "kubetune_target_watches")
    assert watches == 1, f"{watches} target watches for one Deployment"

    # Nothing changed: passes that find the same facts write nothing.
    versions = {}
    for name in names:  # a metadata-only change is an event, so each model reconciles once more
        poked = kube.patch(ftm_path(ns, name), {"metadata": {"annotations": {"example.com/poke": "1"}}})
        versions[name] = poked["metadata"]["resourceVersion"]
    time.sleep(3)
    for name in names:
        assert get_ftm(kube, ns, name)["metadata"]["resourceVersion"] == versions[name], \
            f"the operator rewrote the unchanged status of {name}"

    # A pod restart makes each of the 3 models reconcile, but every pod's /v1/models is read about once.
    reads_before = operator_metric(operator, "kubetune_vllm_model_list_reads_total")
    victim = sorted(p["metadata"]["name"] for p in vllm_pods(kube, ns))[0]
    kube.delete(KubeREST.path_for("Pod", ns, victim))
    wait_for(lambda: len(vllm_pods(kube, ns)) == 2 and victim not in {p["metadata"]["name"] for p in vllm_pods(
        kube, ns)}, 400, interval=0.2, what="the replacement pod")
    for name in names:
        wait_for(lambda name=name: get_ftm(kube, ns, name)["status"].get("loaded") == "2/2" and all(
            name in served_ids(p) for p in vllm_pods(kube, ns)), 60, what=f"{name} on the new pod")
    reads = operator_metric(operator, "kubetune_vllm_model_list_reads_total") - reads_before
    # Unshared: 3 models x 2 pods per pass, over at least two passes (pod gone, pod Ready) = 12 or more.
    assert reads <= 8, f"{reads} /v1/models reads for 3 models on 2 pods"
    for name in names:
        kube.delete(ftm_path(ns, name))
    for name in names:
        wait_for(lambda name=name: kube.get_or_none(ftm_path(ns, name)) is None, 60, what=f"{name} to go")


def test_deleting_a_model_while_it_loads_leaves_no_orphan_adapter(
        kube: KubeREST, serving_ns: str, operator: OperatorProcess, cluster: LocalCluster, tiny_model: Path) -> None:
    # Defect 5: unloading (on delete, or on a removed target) ran outside the model's lock while a rollout could still
    # be loading, which left the adapter loaded in vLLM with no object to unload it. Every action on a model now runs
    # in its one reconcile at a time. Delete right after create, at several moments of the load.
    ns = serving_ns
    adapters = cluster.volume_path(ns, "adapters")
    for i, pause in enumerate((0.0, 0.5, 1.0, 2.0)):
        name = f"racy-{i}"
        make_adapter(tiny_model, adapters / name, rank=8, seed=20 + i)
        kube.create(ftm_path(ns, None), finetuned_model(name, name, [{"deployment": "vllm"}]))
        time.sleep(pause)
        kube.delete(ftm_path(ns, name))
        wait_for(lambda name=name: kube.get_or_none(ftm_path(ns, name)) is None, 90, what=f"{name} to go")
        time.sleep(1)  # a load still in flight would land now
        for pod in vllm_pods(kube, ns):
            assert name not in served_ids(pod), f"{name} was left loaded on {pod['metadata']['name']}"
