"""Deterministic names and the labels that tie children to their owners."""

from __future__ import annotations

import hashlib
from typing import Any

from ..api import API_VERSION

MANAGED_BY = "app.kubernetes.io/managed-by"
OPERATOR = "kubetune"
PART_OF = "app.kubernetes.io/part-of"
COMPONENT = "app.kubernetes.io/component"
TRAININGJOB = "kubetune.dev/trainingjob"
TRAININGJOB_UID = "kubetune.dev/trainingjob-uid"
MODEL_NAME = "kubetune.dev/model-name"
FINETUNEDMODEL = "kubetune.dev/finetunedmodel"
# On a training Job: the spec.suspend the operator last applied, so it can tell its own suspension from a queue's.
SUSPEND_REQUESTED = "kubetune.dev/suspend"

MAX_NAME = 63  # Job names become label values (job-name), so they are held to a label's length.


def child_name(owner: str, suffix: str) -> str:
    """``<owner>-<suffix>``, shortened with a stable hash when it would pass 63 characters."""
    name = f"{owner}-{suffix}"
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(owner.encode()).hexdigest()[:8]
    keep = MAX_NAME - len(suffix) - len(digest) - 2
    # A cut just after a '.' would leave ".-", which is not a DNS-1123 subdomain.
    return f"{owner[:keep].rstrip('-.')}-{digest}-{suffix}"


def owner_reference(kind: str, name: str, uid: str) -> dict[str, Any]:
    return {"apiVersion": API_VERSION, "kind": kind, "name": name, "uid": uid, "controller": True,
            "blockOwnerDeletion": True}


def common_labels(component: str) -> dict[str, str]:
    return {MANAGED_BY: OPERATOR, PART_OF: OPERATOR, COMPONENT: component}
