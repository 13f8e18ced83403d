"""Reading TrainingJobs, ModelComparisons and their children in end-to-end tests."""

from __future__ import annotations

import json
from typing import Any

from kubetune_devcluster.kubeapi import KubeREST
from kubetune_devcluster.operator_process import OperatorProcess
from kubetune_devcluster.waiting import wait_for

GROUP_VERSION = "kubetune.dev/v1alpha1"
Json = dict[str, Any]


def tj_path(namespace: str, name: str | None = None) -> str:
    return KubeREST.path(GROUP_VERSION, "trainingjobs", namespace, name)


def ftm_path(namespace: str, name: str | None = None) -> str:
    return KubeREST.path(GROUP_VERSION, "finetunedmodels", namespace, name)


def logged_steps(max_steps: int, every: int = 10) -> list[int]:
    """The steps the trainer logs a loss at: the first (the Trainer's logging_first_step), every ``every``-th, and
    the last."""
    return sorted({1, *range(every, max_steps + 1, every), max_steps})


def mc_path(namespace: str, name: str | None = None) -> str:
    return KubeREST.path(GROUP_VERSION, "modelcomparisons", namespace, name)


def wait_mc(kube: KubeREST, namespace: str, name: str, check: Any, operator: OperatorProcess,
            timeout: float = 600) -> Json:
    """Wait until ``check(status)`` holds for the ModelComparison; on timeout, show its status and the operator's
    log."""
    def reached() -> Json | None:
        found = kube.get_or_none(mc_path(namespace, name))
        return found if found and check(found.get("status") or {}) else None

    try:
        return wait_for(reached, timeout, interval=0.2, what=f"ModelComparison {name}")
    except AssertionError as e:
        status = json.dumps((kube.get_or_none(mc_path(namespace, name)) or {}).get("status"), indent=1)
        raise AssertionError(f"{e}\nstatus: {status}\noperator log:\n{operator.log_tail()}") from None


def get_tj(kube: KubeREST, namespace: str, name: str) -> Json:
    return kube.get(tj_path(namespace, name))


def wait_phase(kube: KubeREST, namespace: str, name: str, phases: tuple[str, ...], timeout: float = 240,
               operator: OperatorProcess | None = None) -> Json:
    """Wait for the TrainingJob to reach one of ``phases``; on timeout, show its status and the operator's log."""
    def reached() -> Json | None:
        tj = get_tj(kube, namespace, name)
        return tj if tj.get("status", {}).get("phase") in phases else None

    try:
        return wait_for(reached, timeout, interval=0.2, what=f"TrainingJob {name} to reach {phases}")
    except AssertionError as e:
        status = json.dumps(get_tj(kube, namespace, name).get("status"), indent=1)
        tail = operator.log_tail() if operator else ""
        raise AssertionError(f"{e}\nstatus: {status}\noperator log:\n{tail}") from None


def jobs_of(kube: KubeREST, namespace: str, name: str) -> list[Json]:
    return kube.get(KubeREST.path_for("Job", namespace), labelSelector=f"kubetune.dev/trainingjob={name}")["items"]


def pods_of(kube: KubeREST, namespace: str, name: str) -> list[Json]:
    return kube.get(KubeREST.path_for("Pod", namespace), labelSelector=f"kubetune.dev/trainingjob={name}")["items"]


def models_of(kube: KubeREST, namespace: str, name: str) -> list[Json]:
    return kube.get(ftm_path(namespace), labelSelector=f"kubetune.dev/trainingjob={name}")["items"]


def events_for(kube: KubeREST, namespace: str, name: str, kind: str = "TrainingJob") -> list[Json]:
    events = kube.get(KubeREST.path_for("Event", namespace))["items"]
    return [e for e in events if e["involvedObject"].get("name") == name and e["involvedObject"].get("kind") == kind]


def wait_event(kube: KubeREST, namespace: str, name: str, kind: str, matches: Any, timeout: float = 30) -> Json:
    """The first Event on the object that ``matches``, waiting for it: the operator posts an Event right after the
    status write it reports, so a status just seen may still be a moment ahead of its Event."""
    def found() -> Json | None:
        return next((e for e in events_for(kube, namespace, name, kind) if matches(e)), None)

    return wait_for(found, timeout=timeout, interval=0.2, what=f"an Event on {kind} {namespace}/{name}")


def trainer_results(kube: KubeREST, namespace: str, name: str) -> list[Json]:
    """The TrainerResult of every finished training pod, oldest first."""
    results = []
    for pod in sorted(pods_of(kube, namespace, name), key=lambda p: p["metadata"]["creationTimestamp"]):
        for status in pod.get("status", {}).get("containerStatuses") or []:
            message = (status.get("state", {}).get("terminated") or {}).get("message", "")
            if message.startswith("{"):
                results.append(json.loads(message))
    return results


def checkpoint_step(kube: KubeREST, namespace: str, name: str) -> int:
    return int((get_tj(kube, namespace, name).get("status", {}).get("lastCheckpoint") or {}).get("step") or 0)
