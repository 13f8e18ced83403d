"""Children belong to one incarnation of their owner: they are adopted by owner UID, never by name.

A TrainingJob (or FineTunedModel) deleted and re-created under the same name, before the garbage collector has removed
the old one's children, must not take over the old Job, ConfigMap or validation pod: a Complete Job would make the new
job Succeeded without training, and the collector would delete a ConfigMap the new pod mounts.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ..builders.naming import MANAGED_BY, OPERATOR
from ..kube import Conflict, KubeClient, Resource
from ..kube.client import CONFIGMAPS

log = logging.getLogger(__name__)
Json = dict[str, Any]


def owned_by(obj: Json, uid: str | None) -> bool:
    """Whether ``obj`` belongs to this incarnation of its owner: children are adopted by owner UID, never by name (a
    TrainingJob deleted and re-created under the same name must not take over the old one's Job or ConfigMap)."""
    return any(ref.get("uid") == uid for ref in obj["metadata"].get("ownerReferences") or [])


def is_ours(obj: Json) -> bool:
    """Made by kubetune (so a leftover of an earlier incarnation may be removed), rather than someone else's object
    that happens to have the name."""
    return (obj["metadata"].get("labels") or {}).get(MANAGED_BY) == OPERATOR


async def remove_leftover(client: KubeClient, resource: Resource, obj: Json) -> None:
    """Delete a child of an earlier incarnation (only that object: the UID is a precondition)."""
    meta = obj["metadata"]
    if meta.get("deletionTimestamp"):
        return  # already going; its deletion event queues the next pass
    log.info("removing %s %s/%s, left by an earlier object of the same name", resource.plural, meta["namespace"],
             meta["name"])
    with contextlib.suppress(Conflict):
        await client.delete(resource, meta["name"], meta["namespace"], propagation="Background", uid=meta["uid"])


class NameConflict(Exception):
    """A child's name is taken by an object that is not this owner's and not kubetune's to remove."""


async def ensure_child(client: KubeClient, resource: Resource, body: Json, owner_uid: str | None, owner_kind: str,
                       sync: Callable[[Json], Awaitable[None]] | None = None) -> None:
    """Create a child the owner's pods need (a ConfigMap, a Service), or adopt this owner's own (by owner UID, then
    ``sync`` it with ``body``). One left by an earlier owner of the same name is replaced (the garbage collector would
    delete it under the new pod); anyone else's is a NameConflict."""
    ns, name, kind = body["metadata"]["namespace"], body["metadata"]["name"], body["kind"]
    for _ in range(3):
        try:
            await client.create(resource, body, ns)
            return
        except Conflict:
            current = await client.get_or_none(resource, name, ns)
        if current is None:
            continue
        if owned_by(current, owner_uid):
            if sync is not None:
                await sync(current)
            return
        if not is_ours(current):
            raise NameConflict(f"{kind} {ns}/{name} exists and was not created by kubetune for this {owner_kind}; "
                               f"delete it or rename the {owner_kind}")
        with contextlib.suppress(Conflict):
            await client.delete(resource, name, ns, uid=current["metadata"]["uid"], grace_seconds=0)
    raise NameConflict(f"{kind} {ns}/{name} keeps being re-created by someone else")


async def ensure_configmap(client: KubeClient, configmap: Json, owner_uid: str | None, owner_kind: str) -> None:
    """The owner's ConfigMap (see ensure_child), its data brought up to date when it is this owner's."""
    ns, name = configmap["metadata"]["namespace"], configmap["metadata"]["name"]

    async def sync(current: Json) -> None:
        if current.get("data") != configmap["data"]:
            await client.patch(CONFIGMAPS, name, {"data": configmap["data"]}, ns)

    await ensure_child(client, CONFIGMAPS, configmap, owner_uid, owner_kind, sync)
