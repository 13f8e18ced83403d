"""Listing the mirrored kinds from the cluster: the ``lister`` a Mirror relists with, and what
``kubetune db resync`` reads."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from ..api import API_VERSION, KINDS
from ..kube import ApiError, KubeClient, Resource
from ..kube.namespaces import plain_names
from .mirror import Lister, Listing
from .writes import in_scope

RESOURCES = {kind: Resource(API_VERSION, model.crd.plural) for kind, model in KINDS.items()}
ATTEMPTS = 5


async def _list(client: KubeClient, resource: Resource, namespace: str | None = None) -> list[dict[str, Any]]:
    # 429 ("storage is (re)initializing" just after a CRD is established, or priority-and-fairness throttling) and
    # 5xx pass: try again with backoff before giving up.
    delay = 0.25
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return await client.list(resource, namespace)
        except ApiError as e:
            if attempt == ATTEMPTS or not (e.status == 429 or e.status >= 500):
                raise
        await asyncio.sleep(delay)
        delay *= 2
    raise AssertionError("unreachable")


def cluster_lister(client: KubeClient, namespaces: Sequence[str] = ()) -> Lister:
    """A lister over ``client``: every TrainingJob, FineTunedModel and ModelComparison in ``namespaces`` (kopf
    patterns; empty: the whole cluster). Plain names are listed one namespace at a time (what a namespaced operator's
    RBAC allows); patterns list the cluster and keep what matches."""

    async def list_kind(resource: Resource) -> list[dict[str, Any]]:
        if namespaces and plain_names(namespaces):
            pages = await asyncio.gather(*(_list(client, resource, ns) for ns in namespaces))
            return [item for page in pages for item in page]
        items = await _list(client, resource)
        return [i for i in items if in_scope(str(i.get("metadata", {}).get("namespace", "")), namespaces)]

    async def lister() -> Listing:
        kinds = list(RESOURCES)
        results = await asyncio.gather(*(list_kind(RESOURCES[k]) for k in kinds))
        return {kind: [{**item, "kind": kind} for item in items] for kind, items in zip(kinds, results, strict=True)}

    return lister
