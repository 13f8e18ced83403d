"""An object's body becomes its row: the columns each table names, spec and status as JSON, labels, and nothing of
annotations or managedFields."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from kubetune.store.snapshots import MalformedObject, Snapshot, snapshot_row

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def meta(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": "ml", "uid": f"uid-{name}", "resourceVersion": "42",
            "creationTimestamp": "2026-04-30T10:00:00Z", "labels": {"team": "support"},
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": '{"spec": "copy"}'},
            "managedFields": [{"manager": "kubectl"}], **extra}


def test_training_job_row() -> None:
    body = {
        "kind": "TrainingJob", "metadata": meta("support-bot"),
        "spec": {"baseModel": {"name": "google/gemma-3-12b-it"}, "output": {"modelName": "support-bot"}},
        "status": {"phase": "Succeeded", "reason": "Completed", "message": "trained 60 steps",
                   "datasetStats": {"examples": 120, "sha256": "ab" * 32}, "metrics": {"trainLoss": 0.5},
                   "modelRef": {"name": "support-bot-v1"}, "startTime": "2026-04-30T10:01:00Z",
                   "completionTime": "2026-04-30T10:05:00Z"},
    }
    row = snapshot_row(Snapshot("TrainingJob", body), NOW)
    assert row["uid"] == "uid-support-bot" and (row["namespace"], row["name"]) == ("ml", "support-bot")
    assert (row["phase"], row["reason"], row["message"]) == ("Succeeded", "Completed", "trained 60 steps")
    assert row["base_model"] == "google/gemma-3-12b-it" and row["model_name"] == "support-bot"
    assert row["dataset_stats"] == {"examples": 120, "sha256": "ab" * 32} and row["dataset_sha256"] == "ab" * 32
    assert row["metrics"] == {"trainLoss": 0.5} and row["registered_model"] == "support-bot-v1"
    assert row["created_at"] == datetime(2026, 4, 30, 10, 0, tzinfo=UTC)
    assert row["completed_at"] - row["started_at"] == datetime(2026, 1, 1, 0, 4) - datetime(2026, 1, 1)
    assert (row["resource_version"], row["resource_version_key"]) == ("42", "0242")
    assert row["observed_at"] == NOW and row["deleted_at"] is None
    assert row["labels"] == {"team": "support"}
    assert "annotations" not in str(row) and "managedFields" not in str(row) and "copy" not in str(row)


def test_fine_tuned_model_row_counts_loaded_pods_per_target() -> None:
    body = {
        "kind": "FineTunedModel", "metadata": meta("support-bot-v1"),
        "spec": {"baseModel": {"name": "tiny"}, "adapter": {"pvc": {"claimName": "adapters", "path": "a/b"}},
                 "servedName": "support-bot-v1", "origin": {"trainingJob": "support-bot", "datasetSha256": "cd" * 32}},
        "status": {"phase": "Serving", "adapter": {"rank": 8, "sha256": "ef" * 32},
                   "targets": [{"deployment": "vllm-a", "readyReplicas": 3, "loadedReplicas": 2},
                               {"deployment": "vllm-b", "readyReplicas": 1, "loadedReplicas": 1}]},
    }
    row = snapshot_row(Snapshot("FineTunedModel", body), NOW)
    assert row["served_name"] == "support-bot-v1" and row["base_model"] == "tiny"
    assert row["adapter"] == {"pvc": {"claimName": "adapters", "path": "a/b"}}
    assert (row["adapter_sha256"], row["rank"]) == ("ef" * 32, 8)
    assert (row["origin_job"], row["dataset_sha256"]) == ("support-bot", "cd" * 32)
    assert row["loaded"] == {"vllm-a": {"loaded": 2, "ready": 3}, "vllm-b": {"loaded": 1, "ready": 1}}


def test_model_comparison_row() -> None:
    body = {
        "kind": "ModelComparison", "metadata": meta("ab"),
        "spec": {"baseline": {"servedName": "tiny"}, "candidate": {"fineTunedModelRef": {"name": "bot-v1"}}},
        "status": {"phase": "Succeeded", "results": {"verdict": "candidate", "winRate": {"candidate": 0.7, "n": 10}}},
    }
    row = snapshot_row(Snapshot("ModelComparison", body), NOW)
    assert (row["baseline"], row["candidate"], row["verdict"], row["win_rate"]) == ("tiny", "bot-v1", "candidate", 0.7)
    assert row["results"]["winRate"]["n"] == 10


def test_deleted_snapshot_carries_its_deletion_time() -> None:
    body = {"kind": "TrainingJob", "metadata": meta("gone", deletionTimestamp="2026-04-30T11:00:00Z"), "spec": {}}
    assert snapshot_row(Snapshot("TrainingJob", body, deleted=True), NOW)["deleted_at"] == datetime(
        2026, 4, 30, 11, 0, tzinfo=UTC)
    del body["metadata"]["deletionTimestamp"]
    assert snapshot_row(Snapshot("TrainingJob", body, deleted=True), NOW)["deleted_at"] == NOW


@pytest.mark.parametrize("body", [
    {"kind": "TrainingJob", "metadata": {"name": "x", "resourceVersion": "1"}},
    {"kind": "TrainingJob", "metadata": {"uid": "u", "name": "x"}},
    {"kind": "Pod", "metadata": {"uid": "u", "name": "x", "resourceVersion": "1"}},
])
def test_bodies_without_identity_are_refused(body: dict[str, Any]) -> None:
    with pytest.raises(MalformedObject):
        snapshot_row(Snapshot(body["kind"], body), NOW)
