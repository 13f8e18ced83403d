"""TrainingJob -> the trainer config, its ConfigMap, the batch/v1 Job that runs the training pods, and for a
multi-node job the headless Service its pods find each other through.

How the trainer starts follows ``spec.resources``:

- one process (the default): ``python -m kubetune.training`` in one pod;
- one pod, several processes (GPUs): the same Job, the trainer started by ``torchrun --standalone
  --nproc-per-node N`` (DDP within the pod);
- several pods: an Indexed Job of ``nodes`` pods (``completions = parallelism = nodes``), each pod's hostname
  ``<job>-<index>`` in the subdomain of a headless Service (``publishNotReadyAddresses``, so pods find each other
  before any is Ready), torchrun configured by the variables of Kubeflow Trainer's torch plugin (``PET_NNODES``,
  ``PET_NPROC_PER_NODE``, ``PET_NODE_RANK`` from the completion index, ``PET_MASTER_ADDR=<job>-0.<service>``,
  ``PET_MASTER_PORT``). Index 0 holds rank 0, and the Job succeeds when index 0 does.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass, field
from typing import Any

from ..api import TrainingJob
from ..api.trainer import (
    DEFAULT_DATABASE_URL_ENV,
    DEFAULT_HUB_TOKEN_ENV,
    EXIT_CONFIG_INVALID,
    EXIT_DATASET_INVALID,
    EXIT_GANG_STOPPED,
    VALIDATION_SPLIT_FILE,
    BaseModelRef,
    CheckpointSettings,
    DatasetConfig,
    HubModel,
    Hyperparameters,
    JobRef,
    LoraSettings,
    OutputSettings,
    PostgresQuery,
    ProgressSettings,
    TrainerConfig,
)
from ..settings import OperatorSettings
from .naming import (
    MAX_NAME,
    SUSPEND_REQUESTED,
    TRAININGJOB,
    TRAININGJOB_UID,
    child_name,
    common_labels,
    owner_reference,
)

CONFIG_DIR = "/etc/kubetune"
CONFIG_FILE = "job.json"
INLINE_DATASET_FILE = "dataset.jsonl"
BASE_MODEL_DIR = "/models/base"
HF_HOME = "/tmp/hf"
HUB_BASE_MODEL_DIR = f"{HF_HOME}/base"
DATASET_DIR = "/data"
OUTPUT_DIR = "/output"
CONTAINER = "trainer"
TERMINATION_LOG = "/dev/termination-log"
# The Job controller writes each pod's index here (and into this label); PET_NODE_RANK reads it.
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"


class UnsupportedSpec(ValueError):
    """The spec is valid but names something this operator cannot wire into a pod; the message says what to use."""


def trainer_name(tj: TrainingJob) -> str:
    """Name of the Job and of its ConfigMap."""
    return child_name(_name(tj), "trainer")


def rendezvous_service_name(tj: TrainingJob) -> str:
    """The headless Service of a multi-node job: the Job's own name, so rank 0 is ``<job>-0.<job>``."""
    return trainer_name(tj)


def is_gang(tj: TrainingJob) -> bool:
    """Several pods train together: an Indexed Job behind a headless Service."""
    return tj.spec.resources.nodes > 1


def master_address(tj: TrainingJob) -> str:
    """Where every pod of a multi-node job finds torchrun's rendezvous: index 0's hostname in the Service's
    subdomain (resolved through the search path ``<namespace>.svc.<cluster domain>``)."""
    return f"{trainer_name(tj)}-0.{rendezvous_service_name(tj)}"


def run_dir(tj: TrainingJob) -> str:
    """The run's directory on the output volume: one per TrainingJob object, so a re-created job starts clean."""
    uid = (tj.metadata.uid or "")[:8]
    return posixpath.join(tj.spec.output.storage.pvc.path, tj.spec.output.model_name, f"{_name(tj)}-{uid}")


def held_out_path(tj: TrainingJob) -> str:
    """Where the trainer writes the held-out split, relative to the output claim's root."""
    return posixpath.join(run_dir(tj), VALIDATION_SPLIT_FILE)


def adapter_path(tj: TrainingJob) -> str:
    """Where the final adapter lands, relative to the output claim's root."""
    return posixpath.join(run_dir(tj), "adapter")


def labels(tj: TrainingJob) -> dict[str, str]:
    return {**common_labels("trainer"), TRAININGJOB: _name(tj), TRAININGJOB_UID: tj.metadata.uid or ""}


@dataclass
class _Wiring:
    """What a data source adds to the pod."""

    volumes: list[dict[str, Any]] = field(default_factory=list)
    mounts: list[dict[str, Any]] = field(default_factory=list)
    env: list[dict[str, Any]] = field(default_factory=list)


def _name(tj: TrainingJob) -> str:
    assert tj.metadata.name, "a TrainingJob from the API server always has a name"
    return tj.metadata.name


def _base_model(tj: TrainingJob, wiring: _Wiring) -> BaseModelRef:
    source = tj.spec.base_model.source
    if source.pvc is not None:
        wiring.volumes.append({"name": "base-model", "persistentVolumeClaim": {"claimName": source.pvc.claim_name,
                                                                               "readOnly": True}})
        mount: dict[str, Any] = {"name": "base-model", "mountPath": BASE_MODEL_DIR, "readOnly": True}
        if source.pvc.path:
            mount["subPath"] = source.pvc.path
        wiring.mounts.append(mount)
        return BaseModelRef(name=tj.spec.base_model.name, path=BASE_MODEL_DIR)
    hub = source.hub_repo()
    assert hub is not None, "the API admits only pvc and hf:// base model sources"
    repo_id, revision = hub
    token_env = None
    if source.token_secret_ref is not None:
        # The token reaches the pod only through its env, from the Secret: never in the ConfigMap'd config.
        token_env = DEFAULT_HUB_TOKEN_ENV
        wiring.env.append({"name": token_env, "valueFrom": {"secretKeyRef": {
            "name": source.token_secret_ref.name, "key": source.token_secret_ref.key}}})
    # The trainer downloads the snapshot into the pod's /tmp emptyDir, then loads it offline from there.
    return BaseModelRef(name=tj.spec.base_model.name, path=HUB_BASE_MODEL_DIR,
                        hub=HubModel(repo_id=repo_id, revision=revision, token_env=token_env))


def _dataset(tj: TrainingJob, wiring: _Wiring) -> DatasetConfig:
    dataset = tj.spec.dataset
    source = dataset.source
    common: dict[str, Any] = {
        "format": dataset.format, "validation_split": dataset.validation_split,
        "max_rejected_fraction": dataset.max_rejected_fraction, "seed": tj.spec.hyperparameters.seed,
    }
    if source.inline is not None:
        return DatasetConfig(path=posixpath.join(CONFIG_DIR, INLINE_DATASET_FILE), **common)
    if source.config_map is not None:
        wiring.volumes.append({"name": "dataset", "configMap": {
            "name": source.config_map.name, "items": [{"key": source.config_map.key, "path": INLINE_DATASET_FILE}]}})
        wiring.mounts.append({"name": "dataset", "mountPath": DATASET_DIR, "readOnly": True})
        return DatasetConfig(path=posixpath.join(DATASET_DIR, INLINE_DATASET_FILE), **common)
    if source.pvc is not None:
        wiring.volumes.append({"name": "dataset", "persistentVolumeClaim": {"claimName": source.pvc.claim_name,
                                                                            "readOnly": True}})
        wiring.mounts.append({"name": "dataset", "mountPath": DATASET_DIR, "readOnly": True})
        return DatasetConfig(path=posixpath.join(DATASET_DIR, source.pvc.path), **common)
    if source.uri is not None:
        return DatasetConfig(uri=source.uri, **common)
    assert source.postgres is not None, "the API guarantees exactly one dataset source"
    pg = source.postgres
    wiring.env.append({"name": DEFAULT_DATABASE_URL_ENV, "valueFrom": {"secretKeyRef": {
        "name": pg.secret_ref.name, "key": pg.secret_ref.key}}})
    return DatasetConfig(postgres=PostgresQuery(
        database_url_env=DEFAULT_DATABASE_URL_ENV, query=pg.query, mapping=pg.mapping,
        statement_timeout_seconds=pg.statement_timeout_seconds, fetch_size=pg.fetch_size), **common)


def _output(tj: TrainingJob, wiring: _Wiring) -> OutputSettings:
    storage = tj.spec.output.storage.pvc
    wiring.volumes.append({"name": "output", "persistentVolumeClaim": {"claimName": storage.claim_name}})
    wiring.mounts.append({"name": "output", "mountPath": OUTPUT_DIR})
    run = posixpath.join(OUTPUT_DIR, run_dir(tj))
    return OutputSettings(dir=posixpath.join(run, "adapter"), checkpoints_dir=posixpath.join(run, "checkpoints"))


def _plan(tj: TrainingJob, settings: OperatorSettings) -> tuple[TrainerConfig, _Wiring]:
    if len(_name(tj)) > MAX_NAME:
        # The name is the kubetune.dev/trainingjob label of the Job and its pods (the operator's watches map children
        # back by it), and the API server refuses label values over 63 characters: fail once, clearly, not forever.
        raise UnsupportedSpec(f"metadata.name is {len(_name(tj))} characters long; a TrainingJob's name labels its "
                              f"Job and pods, and label values are limited to {MAX_NAME}: use a shorter name")
    if is_gang(tj) and len(f"{trainer_name(tj)}-{tj.spec.resources.nodes - 1}") > MAX_NAME:
        # The API server checks this too (GANG_NAME_RULE); a pod hostname over 63 characters would never be created.
        raise UnsupportedSpec(f"metadata.name is too long for a job of {tj.spec.resources.nodes} nodes: its pods' "
                              f"hostnames <name>-trainer-<index> must fit in {MAX_NAME} characters")
    spec = tj.spec
    wiring = _Wiring()
    hp = spec.hyperparameters
    config = TrainerConfig(
        job=JobRef(name=_name(tj), namespace=tj.metadata.namespace or "", uid=tj.metadata.uid or ""),
        base_model=_base_model(tj, wiring),
        dataset=_dataset(tj, wiring),
        method=spec.method,
        backend=spec.backend,
        lora=LoraSettings(r=spec.lora.r, alpha=spec.lora.alpha, dropout=spec.lora.dropout,
                          target_modules=list(spec.lora.target_modules)
                          if isinstance(spec.lora.target_modules, list) else "all-linear"),
        hyperparameters=Hyperparameters(
            epochs=hp.epochs, max_steps=hp.max_steps, batch_size=hp.batch_size,
            gradient_accumulation_steps=hp.gradient_accumulation_steps, learning_rate=hp.learning_rate,
            max_seq_length=hp.max_seq_length, warmup_ratio=hp.warmup_ratio, lr_scheduler=hp.lr_scheduler,
            seed=hp.seed),
        checkpoint=CheckpointSettings(every_steps=spec.checkpoint.every_steps, keep=spec.checkpoint.keep),
        output=_output(tj, wiring),
        # The pod waits (a while) for one more /history read after training, so the loss curve's last steps reach
        # the mirror before it exits.
        progress=ProgressSettings(port=settings.progress_port, linger_seconds=2 * settings.progress_interval + 5),
        termination_message_path=TERMINATION_LOG,
    )
    return config, wiring


def build_trainer_config(tj: TrainingJob, settings: OperatorSettings) -> TrainerConfig:
    """The config the training pod reads from /etc/kubetune/job.json."""
    return _plan(tj, settings)[0]


def build_trainer_configmap(tj: TrainingJob, settings: OperatorSettings) -> dict[str, Any]:
    """The ConfigMap mounted at /etc/kubetune: job.json, plus the inline dataset as JSON Lines."""
    config = build_trainer_config(tj, settings)
    data = {CONFIG_FILE: config.model_dump_json(by_alias=True, exclude_none=True, indent=2)}
    if tj.spec.dataset.source.inline is not None:
        data[INLINE_DATASET_FILE] = "".join(
            json.dumps(row, ensure_ascii=False) + "\n" for row in tj.spec.dataset.source.inline)
    return {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": trainer_name(tj), "namespace": tj.metadata.namespace, "labels": labels(tj),
                     "ownerReferences": [owner_reference("TrainingJob", _name(tj), tj.metadata.uid or "")]},
        "data": data,
    }


def _resources(tj: TrainingJob, settings: OperatorSettings) -> dict[str, Any]:
    """Requests always (a namespace with a ResourceQuota refuses pods without them): the spec's, else the operator's
    defaults; limits only for what the spec sets (and the GPUs, which are requested through their limit)."""
    res = tj.spec.resources
    limits: dict[str, Any] = {}
    requests: dict[str, Any] = {"cpu": settings.trainer_cpu_request, "memory": settings.trainer_memory_request}
    if res.gpus:
        limits[res.gpu_resource_name] = str(res.gpus)
    for key, value in (("cpu", res.cpu), ("memory", res.memory)):
        if value is not None:
            limits[key] = requests[key] = str(value)
    return {k: v for k, v in (("requests", requests), ("limits", limits)) if v}


def _command(tj: TrainingJob, settings: OperatorSettings) -> list[str]:
    """The trainer alone for one process; under torchrun (through kubetune's wrapper, which keeps the trainer's exit
    code for the podFailurePolicy) for several."""
    trainer = ["-m", "kubetune.training", "--config", posixpath.join(CONFIG_DIR, CONFIG_FILE)]
    resources = tj.spec.resources
    if resources.world_size() == 1:
        return [settings.python, *trainer]
    launcher = [settings.python, "-m", "kubetune.training.torchrun"]
    if is_gang(tj):
        return [*launcher, *trainer]  # torchrun reads its settings from the PET_* variables
    return [*launcher, "--standalone", "--nnodes", "1", "--nproc-per-node", str(resources.processes()), *trainer]


def _gang_env(tj: TrainingJob, settings: OperatorSettings) -> list[dict[str, Any]]:
    """What Kubeflow Trainer's torch plugin sets, so a multi-node pod reads as familiar: torchrun takes each PET_<X>
    variable as its --<x> option."""
    if not is_gang(tj):
        return []
    resources = tj.spec.resources
    return [
        {"name": "PET_NNODES", "value": str(resources.nodes)},
        {"name": "PET_NPROC_PER_NODE", "value": str(resources.processes())},
        {"name": "PET_NODE_RANK", "valueFrom": {"fieldRef": {
            "fieldPath": f"metadata.annotations['{COMPLETION_INDEX}']"}}},
        {"name": "PET_MASTER_ADDR", "value": master_address(tj)},
        {"name": "PET_MASTER_PORT", "value": str(settings.rendezvous_port)},
    ]


def build_rendezvous_service(tj: TrainingJob, settings: OperatorSettings) -> dict[str, Any]:
    """The headless Service of a multi-node job: it gives each pod the DNS name ``<job>-<index>.<service>``, before
    the pod is Ready (``publishNotReadyAddresses``: a training pod never turns Ready while it waits for its peers)."""
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": rendezvous_service_name(tj), "namespace": tj.metadata.namespace, "labels": labels(tj),
                     "ownerReferences": [owner_reference("TrainingJob", _name(tj), tj.metadata.uid or "")]},
        "spec": {
            "clusterIP": "None",
            "publishNotReadyAddresses": True,
            "selector": {TRAININGJOB_UID: tj.metadata.uid or ""},
            "ports": [{"name": "rendezvous", "port": settings.rendezvous_port,
                       "targetPort": settings.rendezvous_port, "protocol": "TCP"}],
        },
    }


def _gang_job_spec(tj: TrainingJob, job_spec: dict[str, Any]) -> None:
    """Turn the one-pod Job into a gang of ``nodes`` pods that succeed with index 0 and fail and restart together."""
    nodes = tj.spec.resources.nodes
    job_spec.update({
        "completionMode": "Indexed",
        "completions": nodes,
        "parallelism": nodes,
        # Rank 0 (index 0) writes the adapter and the result; the other ranks wait for it before they exit.
        "successPolicy": {"rules": [{"succeededIndexes": "0"}]},
        # A failed pod takes its peers down with it (their next collective fails), and each index is replaced: one
        # gang restart uses up one failure per pod, so the budget is backoffLimit restarts of the whole gang.
        "backoffLimit": tj.spec.backoff_limit * nodes,
    })
    job_spec["template"]["spec"]["subdomain"] = rendezvous_service_name(tj)


def build_training_job(tj: TrainingJob, settings: OperatorSettings) -> dict[str, Any]:
    """The batch/v1 Job that runs the training pod (or the gang of pods of a multi-node job), retried from
    checkpoints up to backoffLimit."""
    _, wiring = _plan(tj, settings)
    spec = tj.spec
    name = trainer_name(tj)
    pod_labels = labels(tj)
    # Kueue and similar queueing controllers select on these; pass them through to the Job. Kueue admits a Job's
    # parallelism as one workload, so a gang is admitted whole or stays suspended.
    queue_labels = {k: v for k, v in tj.metadata.labels.items() if k.startswith("kueue.x-k8s.io/")}
    ports = [{"name": "progress", "containerPort": settings.progress_port}]
    if is_gang(tj):
        ports.append({"name": "rendezvous", "containerPort": settings.rendezvous_port})
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": spec.image or settings.trainer_image,
        "imagePullPolicy": settings.image_pull_policy,
        "command": _command(tj, settings),
        "env": [
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "PYTHONUNBUFFERED", "value": "1"},
            {"name": "HF_HOME", "value": HF_HOME},
            *_gang_env(tj, settings),
            *wiring.env,
        ],
        "ports": ports,
        "resources": _resources(tj, settings),
        "volumeMounts": [
            {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
            *wiring.mounts,
            {"name": "tmp", "mountPath": "/tmp"},
        ],
        "terminationMessagePath": TERMINATION_LOG,
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "runAsNonRoot": True,
        },
    }
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        # Training pods need no Kubernetes credentials: progress is pulled, results go to the termination message.
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True, "runAsUser": settings.pod_user, "runAsGroup": settings.pod_user,
            "fsGroup": settings.pod_user, "seccompProfile": {"type": "RuntimeDefault"},
        },
        "terminationGracePeriodSeconds": 60,
        "containers": [container],
        "volumes": [
            {"name": "config", "configMap": {"name": name}},
            *wiring.volumes,
            {"name": "tmp", "emptyDir": {}},
        ],
    }
    if spec.resources.node_selector:
        pod_spec["nodeSelector"] = dict(spec.resources.node_selector)
    if spec.resources.tolerations:
        pod_spec["tolerations"] = [t.model_dump(by_alias=True, exclude_none=True) for t in spec.resources.tolerations]
    if spec.resources.priority_class_name:
        pod_spec["priorityClassName"] = spec.resources.priority_class_name
    job_spec: dict[str, Any] = {
        "suspend": spec.suspend,
        "backoffLimit": spec.backoff_limit,
        "completions": 1,
        "parallelism": 1,
        # Never two pods at once: a replacement starts only after the old pod has stopped writing checkpoints.
        "podReplacementPolicy": "Failed",
        "podFailurePolicy": {"rules": [
            # Bad data or config fails the same way on every retry: fail now, keep the GPU for someone else.
            {"action": "FailJob", "onExitCodes": {"containerName": CONTAINER, "operator": "In",
                                                  "values": [EXIT_DATASET_INVALID, EXIT_CONFIG_INVALID]}},
            # Preemption and eviction are not the trainer's fault and do not use up retries.
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
        ]},
        "template": {"metadata": {"labels": pod_labels}, "spec": pod_spec},
    }
    if spec.resources.world_size() > 1:
        # Nor do the other processes of a run whose pod was preempted: they stopped with it, at the same checkpoint.
        job_spec["podFailurePolicy"]["rules"].append(
            {"action": "Ignore", "onExitCodes": {"containerName": CONTAINER, "operator": "In",
                                                 "values": [EXIT_GANG_STOPPED]}})
    if is_gang(tj):
        _gang_job_spec(tj, job_spec)
    if spec.active_deadline_seconds:
        job_spec["activeDeadlineSeconds"] = spec.active_deadline_seconds
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": tj.metadata.namespace, "labels": {**pod_labels, **queue_labels},
                     "annotations": {SUSPEND_REQUESTED: str(spec.suspend).lower()},
                     "ownerReferences": [owner_reference("TrainingJob", _name(tj), tj.metadata.uid or "")]},
        "spec": job_spec,
    }
