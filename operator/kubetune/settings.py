"""Operator settings: one typed object, read once at start-up from ``KUBETUNE_*`` environment variables.

Pure data: builders read it to render manifests, controllers read it for timings. No I/O beyond ``os.environ``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from typing import Any

DEFAULT_IMAGE = "ghcr.io/kubetune/trainer:0.1.0"
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


@dataclass(frozen=True)
class OperatorSettings:
    trainer_image: str = DEFAULT_IMAGE
    """Image of training pods (and of adapter-validation pods), unless a TrainingJob sets spec.image."""

    evaluator_image: str = DEFAULT_IMAGE
    """Image of ModelComparison evaluator pods (kubetune with its ``evaluation`` extra), unless spec.image is set."""

    image_pull_policy: str = "IfNotPresent"
    """imagePullPolicy of the pods the operator creates."""

    python: str = "python"
    """Interpreter inside the trainer image; the pods run ``<python> -m kubetune.training``."""

    pod_user: int = 1000
    """UID and GID the operator's pods run as (non-root, matching images/trainer)."""

    progress_port: int = 8080
    """Port of the trainer's progress endpoint (/progress JSON, /metrics Prometheus)."""

    rendezvous_port: int = 29400
    """Port of torchrun's rendezvous on the first pod of a multi-node TrainingJob (PET_MASTER_PORT), Kubeflow
    Trainer's default."""

    progress_interval: float = 5.0
    """Seconds between progress reads from a running training pod (the issue asks for at most 10)."""

    adapter_load_concurrency: int = 8
    """Pods loaded in parallel per rollout."""

    adapter_load_timeout: float = 30.0
    """Seconds one vLLM load or unload call may take."""

    adapter_load_retries: int = 3
    """Attempts per pod before the pod is reported as failed (with exponential backoff)."""

    unload_deadline: float = 30.0
    """Upper bound, in seconds, on a FineTunedModel's finalizer: pods that do not answer by then are treated as
    unloaded, so deletion never hangs on a gone pod."""

    validation_deadline: int = 300
    """activeDeadlineSeconds of an adapter-validation pod."""

    max_concurrent_reconciles: int = 32
    """Workers of the TrainingJob work queue: reconciles that read and write the API at once; more wait in the queue
    as keys. It bounds the memory a burst of events can take (each reconcile holds the objects it read)."""

    namespaces: tuple[str, ...] = ()
    """Namespaces to watch; empty with ``clusterwide`` means all."""

    clusterwide: bool = True
    """Watch every namespace (needs ClusterRole rights)."""

    liveness_endpoint: str = "http://0.0.0.0:8081/healthz"
    """Where kopf serves its liveness probe."""

    metrics_port: int = 9090
    """Port of the operator's own Prometheus metrics; 0 disables them."""

    allowed_images: tuple[str, ...] = ()
    """Images a TrainingJob or ModelComparison may name in spec.image (comma-separated; a trailing ``*`` matches a
    prefix, e.g. ``registry.example.com/ml/*``). Empty: spec.image is refused. A pod of the operator's runs with the
    namespace's Secrets and volumes, so who may pick its image is the administrator's choice."""

    trainer_cpu_request: str = "1"
    """CPU request of a training pod whose spec.resources.cpu is unset (a namespace with a ResourceQuota on CPU
    refuses pods without requests)."""

    trainer_memory_request: str = "2Gi"
    """Memory request of a training pod whose spec.resources.memory is unset."""

    leader_election: bool = True
    """Elect one active replica through a coordination.k8s.io Lease; the others wait to take over."""

    leader_election_namespace: str = ""
    """Namespace of the Lease; default: the operator pod's own ($POD_NAMESPACE or its service account's)."""

    leader_election_name: str = "kubetune-operator"
    """Name of the Lease."""

    leader_election_identity: str = ""
    """This replica's identity in the Lease; default: $POD_NAME, else the host name."""

    lease_duration: float = 15.0
    """Seconds a standby waits after the leader's last renewal before it takes over."""

    renew_deadline: float = 10.0
    """Seconds the leader keeps acting without a successful renewal before it stops (less than lease_duration)."""

    lease_retry_period: float = 2.0
    """Seconds between renewals (and between a standby's attempts)."""


    database_url: str = ""
    """KUBETUNE_DATABASE_URL: where the mirror writes (postgresql://user:password@host:5432/db, or sqlite:///path).
    Empty: an embedded SQLite file, ``kubetune.db`` under ``state_dir``."""

    state_dir: str = ""
    """Directory for the operator's local state (the embedded SQLite mirror). Empty: $XDG_STATE_HOME/kubetune, else
    ~/.local/state/kubetune; the chart points it at a small PVC."""

    database_migrate: bool = True
    """Upgrade the mirror's schema to the newest version at start (under a Postgres advisory lock, so replicas never
    migrate at once). Turn off where migrations are run by hand (``kubetune db upgrade``)."""

    mirror_batch_size: int = 500
    """Rows the mirror's writer commits per transaction at most."""

    mirror_queue_bound: int = 50_000
    """Records the mirror holds while the database is slow or down; beyond it records are dropped (and counted in
    kubetune_mirror_rows_dropped_total). Object snapshots are coalesced, one per object."""

    mirror_relist_interval: float = 300.0
    """Seconds between relists of the cluster that mark rows of objects gone from it with deleted_at; 0 turns the
    periodic relist off (the mirror still relists after a database outage)."""

    def image_allowed(self, image: str) -> bool:
        """Whether spec.image may name ``image`` (see ``allowed_images``)."""
        return any(image.startswith(p[:-1]) if p.endswith("*") else image == p for p in self.allowed_images)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> OperatorSettings:
        env = dict(os.environ if environ is None else environ)
        values: dict[str, Any] = {}
        for f in fields(cls):
            variable = f"KUBETUNE_{f.name.upper()}"
            raw = env.get(variable)
            if raw is None:
                continue
            if f.type in ("int", int, "float", float):
                is_int = f.type in ("int", int)
                try:
                    values[f.name] = int(raw) if is_int else float(raw)
                except ValueError as e:  # stop at start-up naming the variable, not with a bare int() error
                    raise ValueError(f"{variable}={raw!r}: expected {'an integer' if is_int else 'a number'}") from e
            elif f.type in ("bool", bool):
                word = raw.strip().lower()
                if word not in _TRUE + _FALSE:
                    raise ValueError(f"{variable}={raw!r}: expected one of {', '.join(_TRUE + _FALSE)}")
                values[f.name] = word in _TRUE
            elif f.name in ("namespaces", "allowed_images"):
                values[f.name] = tuple(n.strip() for n in raw.split(",") if n.strip())
            else:
                values[f.name] = raw
        return cls(**values)
