"""comparison_phase.observe_comparison: a ModelComparison's phase from its evaluator Job and pods, shaped as the API
server returns them, and the evaluator's termination message."""

from __future__ import annotations

import json
from typing import Any

from kubetune.controllers.comparison_phase import observe_comparison

Json = dict[str, Any]
T0, T1 = "2026-03-01T10:00:00Z", "2026-03-01T10:05:00Z"


def job(*conditions: tuple[str, str], **status: Any) -> Json:
    return {"metadata": {"name": "cmp-evaluator", "namespace": "ns", "uid": "j"}, "spec": {},
            "status": {**status, "conditions": [{"type": t, "status": "True", "reason": r, "message": f"{r} happened",
                                                 "lastTransitionTime": T1} for t, r in conditions]}}


def pod(name: str, phase: str, created: str = T0, state: Json | None = None, ip: str | None = None,
        conditions: list[Json] | None = None) -> Json:
    body: Json = {"metadata": {"name": name, "creationTimestamp": created},
                  "status": {"phase": phase, "conditions": conditions or []}}
    if ip:
        body["status"]["podIP"] = ip
    if state is not None:
        body["status"]["containerStatuses"] = [{"name": "evaluator", "state": state}]
    return body


def terminated(code: int, message: Json | str) -> Json:
    text = message if isinstance(message, str) else json.dumps(message)
    return {"terminated": {"exitCode": code, "message": text, "startedAt": T0, "finishedAt": T1}}


RESULTS = {"verdict": "candidate", "verdictReason": "CandidateBetter", "verdictMessage": "exact match +0.9 [0.8, 1]",
           "samples": 16, "winRate": {"candidate": 0.97, "ci95": [0.8, 1.0], "n": 16}}


def test_a_finished_evaluation_carries_its_results_and_verdict() -> None:
    done = pod("p1", "Succeeded", state=terminated(0, {"phase": "Succeeded", "reason": "Completed",
                                                       "message": "16 samples: candidate", "results": RESULTS}))
    obs = observe_comparison(job(("Complete", "CompletionsReached"), completionTime=T1), [done])
    assert (obs.phase, obs.reason, obs.completion_time, obs.start_time) == ("Succeeded", "CandidateBetter", T1, T0)
    assert obs.result is not None and obs.result.results is not None
    assert obs.result.results.verdict == "candidate" and obs.result.results.win_rate.ci95 == [0.8, 1.0]  # type: ignore


def test_endpoint_errors_fail_with_the_first_error() -> None:
    failed = pod("p1", "Failed", state=terminated(5, {
        "phase": "Failed", "reason": "EndpointErrors", "message": "candidate: 9 of 16 requests failed",
        "firstError": "HTTP 404: The model `nope` does not exist."}))
    obs = observe_comparison(job(("FailureTarget", "PodFailurePolicy")), [failed])
    assert (obs.phase, obs.reason) == ("Failed", "EndpointErrors")
    assert "9 of 16" in obs.message and "does not exist" in obs.message


def test_a_pod_that_died_without_a_result_is_reported_by_exit_code() -> None:
    gone = pod("p1", "Failed", state=terminated(137, "Killed"))
    obs = observe_comparison(job(("Failed", "BackoffLimitExceeded")), [gone, gone])
    assert (obs.phase, obs.reason) == ("Failed", "BackoffLimitExceeded")
    assert "exit code 137" in obs.message and obs.failed_attempts == 2


def test_a_retry_resumes_and_says_so() -> None:
    killed = pod("p1", "Failed", created=T0, state=terminated(137, ""))
    running = pod("p2", "Running", created=T1, state={"running": {"startedAt": T1}}, ip="127.0.0.9")
    obs = observe_comparison(job(active=1, failed=1), [killed, running])
    assert (obs.phase, obs.pod_ip, obs.failed_attempts) == ("Running", "127.0.0.9", 1)
    assert "resuming" in obs.message
    assert obs.start_time == T0, "the first pod's start"


def test_waiting_for_a_pod() -> None:
    unschedulable = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                     "message": "0/1 nodes are available: 1 Insufficient memory."}
    assert observe_comparison(job(active=1), [pod("p1", "Pending", conditions=[unschedulable])]).reason == \
        "Unschedulable"
    assert observe_comparison(job(), []).reason == "PodCreating"
    created = observe_comparison(job(), [], creation_failure='pods "x" is forbidden: exceeded quota')
    assert (created.phase, created.reason) == ("Pending", "FailedCreate") and "exceeded quota" in created.message
