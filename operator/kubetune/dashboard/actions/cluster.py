"""Carrying out an action through the Kubernetes API, as the dashboard's ServiceAccount: create the TrainingJob or
ModelComparison a form built, or patch a FineTunedModel's serving targets. Errors come back by meaning with the API
server's own message (a Forbidden names the verb the ServiceAccount lacks)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...kube import ApiError, Conflict, Forbidden, Invalid, KubeClient, NotFound, Resource
from . import manifests

Json = dict[str, Any]
GROUP_VERSION = manifests.API_VERSION
PLURALS = {"TrainingJob": "trainingjobs", "FineTunedModel": "finetunedmodels", "ModelComparison": "modelcomparisons"}


class ActionFailed(Exception):
    """The API server refused the action; the message says why, in its words."""


@dataclass(frozen=True)
class Applied:
    kind: str
    namespace: str
    name: str
    uid: str
    verb: str
    """created, patched or unchanged"""
    yaml: str


def resource(kind: str) -> Resource:
    return Resource(GROUP_VERSION, PLURALS[kind])


def _refused(e: ApiError, what: str) -> ActionFailed:
    if isinstance(e, Forbidden):
        return ActionFailed(f"forbidden: the dashboard's ServiceAccount may not {what}: {e.message}")
    if isinstance(e, Conflict):
        return ActionFailed(f"conflict: {e.message}")
    if isinstance(e, Invalid):
        return ActionFailed(f"the API server refused it: {e.message}")
    if isinstance(e, NotFound):
        return ActionFailed(f"not found: {e.message}")
    return ActionFailed(f"the API server answered {e.status}: {e.message}")


async def create(client: KubeClient, manifest: Json) -> Applied:
    kind, meta = manifest["kind"], manifest["metadata"]
    try:
        created = await client.create(resource(kind), manifest, meta["namespace"])
    except ApiError as e:
        raise _refused(e, f"create {PLURALS[kind]} in {meta['namespace']}") from e
    return Applied(kind, meta["namespace"], meta["name"], created["metadata"]["uid"], "created",
                   manifests.to_yaml(manifest))


async def change_targets(client: KubeClient, namespace: str, name: str, action: str, deployment: str,
                         port: int = 8000) -> tuple[Applied, Json]:
    """Deploy or withdraw FineTunedModel ``name`` on ``deployment``; returns what was applied and the patch."""
    try:
        model = await client.get(resource("FineTunedModel"), name, namespace)
        change = manifests.serving_targets(model, action, deployment, port)
        if not change.changed:
            return Applied("FineTunedModel", namespace, name, model["metadata"]["uid"], "unchanged",
                           manifests.to_yaml(change.patch)), change.patch
        patched = await client.patch(resource("FineTunedModel"), name, change.patch, namespace)
    except ApiError as e:
        raise _refused(e, f"patch finetunedmodels in {namespace}") from e
    return Applied("FineTunedModel", namespace, name, patched["metadata"]["uid"], "patched",
                   manifests.to_yaml(change.patch)), change.patch
