"""model_validation.read_pod: what the adapter validation pod says, including the ways it can fail to say anything
(an image that cannot be pulled, a pod never scheduled, a deadline), which must not leave a model Validating forever.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kubetune.controllers.model_validation import PENDING, read_pod

Json = dict[str, Any]
NOW = datetime(2026, 3, 1, 10, 0, 0, tzinfo=UTC)
DEADLINE = 300.0


def pod(phase: str, age: float = 10.0, containers: list[Json] | None = None, conditions: list[Json] | None = None,
        **status: Any) -> Json:
    created = (NOW - timedelta(seconds=age)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"metadata": {"name": "m-validate", "namespace": "ns", "creationTimestamp": created},
            "status": {"phase": phase, "containerStatuses": containers or [], "conditions": conditions or [],
                       **status}}


def test_a_report_in_the_termination_message() -> None:
    report = {"rank": 8, "alpha": 16, "sha256": "ab" * 32, "baseModel": "tiny-llama"}
    done = pod("Succeeded", containers=[{"name": "inspect", "state": {"terminated": {
        "exitCode": 0, "message": json.dumps(report)}}}])
    assert read_pod(done, DEADLINE, NOW).report == report


def test_a_crash_without_a_report_is_a_problem_report() -> None:
    crashed = pod("Failed", containers=[{"name": "inspect", "state": {"terminated": {
        "exitCode": 1, "message": "Traceback ... PermissionError: /adapter"}}}])
    problems = read_pod(crashed, DEADLINE, NOW).report["problems"]  # type: ignore[index]
    assert problems[0]["reason"] == "ValidationFailed" and "PermissionError" in problems[0]["message"]


def test_a_pod_failed_without_running_is_a_failed_attempt() -> None:
    gone = pod("Failed", reason="DeadlineExceeded", message="Pod was active on the node longer than the specified "
               "deadline")
    inspection = read_pod(gone, DEADLINE, NOW)
    assert inspection.report is None and inspection.failed is not None
    assert inspection.failed.reason == "DeadlineExceeded" and "longer than" in inspection.failed.message


@pytest.mark.parametrize("reason", ["ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError"])
def test_a_pod_stuck_before_starting_shows_why(reason: str) -> None:
    stuck = pod("Pending", containers=[{"name": "inspect", "state": {"waiting": {
        "reason": reason, "message": 'Back-off pulling image "registry.invalid/trainer:0"'}}}])
    inspection = read_pod(stuck, DEADLINE, NOW)
    assert inspection.waiting is not None and inspection.waiting.reason == reason
    assert "cannot start" in inspection.waiting.message


def test_a_pod_never_scheduled_waits_then_fails_at_the_deadline() -> None:
    unschedulable = [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                      "message": "0/3 nodes are available: 3 Insufficient memory."}]
    young = read_pod(pod("Pending", age=20, conditions=unschedulable), DEADLINE, NOW)
    assert young.waiting is not None and young.waiting.reason == "Unschedulable"
    old = read_pod(pod("Pending", age=DEADLINE + 1, conditions=unschedulable), DEADLINE, NOW)
    assert old.failed is not None and "Insufficient memory" in old.failed.message


def test_a_running_pod_is_bounded_too() -> None:
    assert read_pod(pod("Running", age=30), DEADLINE, NOW).waiting == PENDING
    # A started pod has its own activeDeadlineSeconds: the kubelet's verdict gets a margin to arrive first.
    assert read_pod(pod("Running", age=DEADLINE + 5), DEADLINE, NOW).waiting == PENDING
    late = read_pod(pod("Running", age=DEADLINE * 1.2 + 1), DEADLINE, NOW)
    assert late.failed is not None and late.failed.reason == "DeadlineExceeded"
