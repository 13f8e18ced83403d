"""FineTunedModel -> the short pod that reads its adapter from the volume and reports it (the operator cannot read
volumes itself)."""

from __future__ import annotations

from typing import Any

from ..api import FineTunedModel
from ..settings import OperatorSettings
from .naming import FINETUNEDMODEL, child_name, common_labels, owner_reference

ADAPTER_DIR = "/adapter"
COMPONENT = "adapter-validator"


def validation_pod_name(ftm: FineTunedModel) -> str:
    return child_name(ftm.metadata.name or "", "validate")


def build_validation_pod(ftm: FineTunedModel, settings: OperatorSettings) -> dict[str, Any]:
    """A run-once pod: ``python -m kubetune.training.inspect_adapter`` over the adapter's volume, read-only."""
    pvc = ftm.spec.adapter.pvc
    assert pvc is not None, "only volume adapters need a validation pod"
    mount: dict[str, Any] = {"name": "adapter", "mountPath": ADAPTER_DIR, "readOnly": True}
    if pvc.path:
        mount["subPath"] = pvc.path
    name = ftm.metadata.name or ""
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": validation_pod_name(ftm), "namespace": ftm.metadata.namespace,
            "labels": {**common_labels(COMPONENT), FINETUNEDMODEL: name},
            "ownerReferences": [owner_reference("FineTunedModel", name, ftm.metadata.uid or "")],
        },
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "activeDeadlineSeconds": settings.validation_deadline,
            "securityContext": {"runAsNonRoot": True, "runAsUser": settings.pod_user, "runAsGroup": settings.pod_user,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{
                "name": "inspect",
                "image": settings.trainer_image,
                "imagePullPolicy": settings.image_pull_policy,
                "command": [settings.python, "-m", "kubetune.training.inspect_adapter", "--path", ADAPTER_DIR],
                "resources": {"requests": {"cpu": "100m", "memory": "64Mi"},
                              "limits": {"cpu": "1", "memory": "256Mi"}},
                "volumeMounts": [mount],
                "terminationMessagePolicy": "FallbackToLogsOnError",
                "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                                    "readOnlyRootFilesystem": True},
            }],
            "volumes": [{"name": "adapter", "persistentVolumeClaim": {"claimName": pvc.claim_name,
                                                                      "readOnly": True}}],
        },
    }
