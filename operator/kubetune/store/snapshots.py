"""From an object's body (a watch event's, a list's) to the row that mirrors it. Pure functions.

What is kept: the labels, the spec and the status, and the columns each table names. What is not: annotations
(``kubectl.kubernetes.io/last-applied-configuration`` repeats the spec; other tools put anything there) and
``managedFields``. Kubernetes objects of these kinds only ever reference Secrets by name, so no secret value can be
in a row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..kube.versions import sort_key

Json = dict[str, Any]


class MalformedObject(ValueError):
    """The body lacks what a row needs (metadata.uid, name or resourceVersion, or a known kind)."""


@dataclass(frozen=True)
class Snapshot:
    """One observed state of an object; ``deleted`` for a DELETED event."""

    kind: str
    body: Mapping[str, Any]
    deleted: bool = False

    @property
    def uid(self) -> str:
        return str(self.body.get("metadata", {}).get("uid", ""))

    @property
    def resource_version(self) -> str | None:
        version = self.body.get("metadata", {}).get("resourceVersion")
        return str(version) if version is not None else None


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp from the API (``2026-01-02T03:04:05Z``) as an aware datetime; None if absent or bad."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _get(body: Mapping[str, Any], *path: str) -> Any:
    node: Any = body
    for part in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def _text(value: Any, limit: int | None = None) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text[:limit] if limit else text


def common_row(snapshot: Snapshot, now: datetime) -> Json:
    body = snapshot.body
    meta = body.get("metadata") or {}
    uid, name, version = meta.get("uid"), meta.get("name"), meta.get("resourceVersion")
    if not uid or not name or version is None:
        raise MalformedObject(f"{snapshot.kind} without metadata.uid, name or resourceVersion")
    status = body.get("status") or {}
    return {
        "uid": str(uid),
        "namespace": str(meta.get("namespace") or ""),
        "name": str(name),
        "labels": dict(meta.get("labels") or {}) or None,
        "spec": body.get("spec"),
        "status": status or None,
        "phase": _text(status.get("phase"), 32),
        "reason": _text(status.get("reason"), 128),
        "message": _text(status.get("message")),
        "created_at": parse_time(meta.get("creationTimestamp")),
        "resource_version": str(version),
        "resource_version_key": sort_key(str(version)),
        "observed_at": now,
        "deleted_at": (parse_time(meta.get("deletionTimestamp")) or now) if snapshot.deleted else None,
    }


def training_job_row(snapshot: Snapshot, now: datetime) -> Json:
    body = snapshot.body
    stats = _get(body, "status", "datasetStats")
    return {
        **common_row(snapshot, now),
        "base_model": _text(_get(body, "spec", "baseModel", "name"), 256),
        "model_name": _text(_get(body, "spec", "output", "modelName"), 63),
        "dataset_stats": stats,
        "dataset_sha256": _text(_get(body, "status", "datasetStats", "sha256"), 64),
        "metrics": _get(body, "status", "metrics"),
        "registered_model": _text(_get(body, "status", "modelRef", "name"), 253),
        "started_at": parse_time(_get(body, "status", "startTime")),
        "completed_at": parse_time(_get(body, "status", "completionTime")),
    }


def _loaded_per_target(targets: Any) -> Json | None:
    if not isinstance(targets, list):
        return None
    loaded = {}
    for target in targets:
        if isinstance(target, Mapping) and target.get("deployment"):
            loaded[str(target["deployment"])] = {"loaded": target.get("loadedReplicas"),
                                                 "ready": target.get("readyReplicas")}
    return loaded or None


def fine_tuned_model_row(snapshot: Snapshot, now: datetime) -> Json:
    body = snapshot.body
    rank = _get(body, "status", "adapter", "rank")
    return {
        **common_row(snapshot, now),
        "served_name": _text(_get(body, "spec", "servedName"), 128),
        "base_model": _text(_get(body, "spec", "baseModel", "name"), 256),
        "adapter": _get(body, "spec", "adapter"),
        "adapter_sha256": _text(_get(body, "status", "adapter", "sha256"), 64),
        "rank": rank if isinstance(rank, int) else None,
        "origin_job": _text(_get(body, "spec", "origin", "trainingJob"), 253),
        "dataset_sha256": _text(_get(body, "spec", "origin", "datasetSha256"), 64),
        "loaded": _loaded_per_target(_get(body, "status", "targets")),
    }


def _compared(side: Any) -> str | None:
    if not isinstance(side, Mapping):
        return None
    return _text(side.get("servedName") or _get(side, "fineTunedModelRef", "name"), 256)


def model_comparison_row(snapshot: Snapshot, now: datetime) -> Json:
    body = snapshot.body
    win_rate = _get(body, "status", "results", "winRate", "candidate")
    return {
        **common_row(snapshot, now),
        "baseline": _compared(_get(body, "spec", "baseline")),
        "candidate": _compared(_get(body, "spec", "candidate")),
        "verdict": _text(_get(body, "status", "results", "verdict"), 32),
        "win_rate": float(win_rate) if isinstance(win_rate, int | float) else None,
        "results": _get(body, "status", "results"),
        "started_at": parse_time(_get(body, "status", "startTime")),
        "completed_at": parse_time(_get(body, "status", "completionTime")),
    }


ROW_BUILDERS = {
    "TrainingJob": training_job_row,
    "FineTunedModel": fine_tuned_model_row,
    "ModelComparison": model_comparison_row,
}


def snapshot_row(snapshot: Snapshot, now: datetime) -> Json:
    builder = ROW_BUILDERS.get(snapshot.kind)
    if builder is None:
        raise MalformedObject(f"kind {snapshot.kind!r} is not mirrored (one of {', '.join(ROW_BUILDERS)})")
    return builder(snapshot, now)
