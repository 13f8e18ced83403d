"""``kubetune crds apply|print|purge``: the install-time work Helm cannot do by itself.

Helm installs a chart's ``crds/`` once and never upgrades or deletes them, so the chart runs ``kubetune crds apply``
from the operator image as a pre-install/pre-upgrade hook: the CRDs of the running version are generated from the
API models in that image and applied server-side. ``kubetune crds purge`` is its pre-delete hook: while the operator
still runs (and unloads adapters behind FineTunedModel finalizers) it deletes every kubetune object, and after a
deadline it takes kubetune's finalizer off whatever is left, so no namespace is stuck once the operator is gone. With
``--keep`` (a post-delete hook, once the operator is gone) it only takes the finalizer off.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from kubetune.kube import KubeClient, Resource

FIELD_MANAGER = "kubetune"
# kopf's finalizer as controllers/startup.py configures it.
FINALIZER = "kubetune.dev/finalizer"
# Deleted in this order: a ModelComparison reads served models, a TrainingJob creates FineTunedModels on success.
PURGE_ORDER = ("modelcomparisons", "trainingjobs", "finetunedmodels")
# The API server answers 429 "storage is (re)initializing" for a while after a CRD changed, and 503 while it starts.
RETRIED_STATUSES = (429, 503)
T = TypeVar("T")


class CrdUpgradeRefused(Exception):
    """Applying these CRDs would drop a version that objects are still stored in."""


def add_commands(subparsers: Any) -> None:
    crds = subparsers.add_parser("crds", help="install, upgrade and clean up kubetune's CustomResourceDefinitions")
    commands = crds.add_subparsers(dest="crds_command", required=True, metavar="COMMAND")

    apply = commands.add_parser(
        "apply", help="apply this version's CRDs (server-side) and wait until they are established",
        description="Generate the CRDs from this build's API models and apply them server-side (field manager "
        f"{FIELD_MANAGER}), then wait until the API server serves them. Refuses to drop a version that objects are "
        "stored in. The Helm chart runs this as a pre-install/pre-upgrade hook.")
    apply.add_argument("--kubeconfig", help="kubeconfig to use (default: $KUBECONFIG, else in-cluster)")
    apply.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for Established (default 60)")
    apply.add_argument("--dry-run", action="store_true", help="ask the API server to validate, change nothing")
    apply.set_defaults(handler=crds_apply)

    show = commands.add_parser("print", help="write this version's CRDs as YAML (for kubectl apply or GitOps)")
    show.set_defaults(handler=crds_print)

    purge = commands.add_parser(
        "purge", help="delete every kubetune object, then free what the operator did not finish",
        description="Delete every ModelComparison, TrainingJob and FineTunedModel (in the given namespaces, or all), "
        "wait for the operator to finish their finalizers, and after --timeout remove kubetune's finalizer from "
        f"what is left. With --keep, delete nothing: only remove the finalizer ({FINALIZER}), so the objects "
        "outlive the operator and can be deleted without it (run it once the operator has stopped, or it puts the "
        "finalizer back). The Helm chart runs this as a pre-delete hook (post-delete with --keep).")
    purge.add_argument("--kubeconfig", help="kubeconfig to use (default: $KUBECONFIG, else in-cluster)")
    scope = purge.add_mutually_exclusive_group(required=True)
    scope.add_argument("-n", "--namespace", action="append", default=[], help="a namespace (repeatable)")
    scope.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace")
    purge.add_argument("--timeout", type=float, default=120.0,
                       help="seconds to let the operator finish deletions before finalizers are removed (default 120)")
    purge.add_argument("--keep", action="store_true", help="keep the objects; only remove kubetune's finalizer")
    purge.set_defaults(handler=crds_purge)


# -- apply -----------------------------------------------------------------------------------------------------------
def crds_print(args: argparse.Namespace) -> int:
    from kubetune.api.crdgen import crd_manifests, to_yaml

    sys.stdout.write("---\n".join(to_yaml(manifest) for manifest in crd_manifests()))
    return 0


def crds_apply(args: argparse.Namespace) -> int:
    try:
        asyncio.run(apply_crds(args.kubeconfig, args.timeout, args.dry_run))
    except CrdUpgradeRefused as e:
        print(f"kubetune: {e}", file=sys.stderr)
        return 1
    return 0


def refused_versions(stored: dict[str, Any] | None, manifest: dict[str, Any]) -> list[str]:
    """Versions objects are stored in (status.storedVersions) that ``manifest`` no longer defines."""
    if not stored:
        return []
    kept = {v["name"] for v in manifest["spec"]["versions"]}
    return [v for v in (stored.get("status") or {}).get("storedVersions") or [] if v not in kept]


def established(crd: dict[str, Any]) -> bool:
    conditions = {c["type"]: c["status"] for c in (crd.get("status") or {}).get("conditions") or []}
    return conditions.get("Established") == "True" and conditions.get("NamesAccepted") == "True"


async def apply_crds(kubeconfig: str | None, established_within: float, dry_run: bool = False) -> None:
    from kubetune.api.crdgen import crd_manifests
    from kubetune.kube import KubeClient, Resource

    crds = Resource("apiextensions.k8s.io/v1", "customresourcedefinitions", namespaced=False)
    client = KubeClient.discover(kubeconfig)
    try:
        manifests = crd_manifests()
        for manifest in manifests:
            name = manifest["metadata"]["name"]
            dropped = refused_versions(await retrying(partial(client.get_or_none, crds, name)), manifest)
            if dropped:
                # Objects stored in a version the new CRD lacks would become unreadable: storage migration first.
                raise CrdUpgradeRefused(
                    f"customresourcedefinition/{name}: objects are stored in {', '.join(dropped)}, which this "
                    "version does not serve; migrate them (docs/operations.md, 'API versions') before applying")
        for manifest in manifests:
            name = manifest["metadata"]["name"]
            query = {"fieldManager": FIELD_MANAGER, "force": "true", **({"dryRun": "All"} if dry_run else {})}
            await client.request("PATCH", crds.path(name=name), manifest, query=query,
                                 content_type="application/apply-patch+yaml")
            versions = ", ".join(v["name"] for v in manifest["spec"]["versions"])
            print(f"customresourcedefinition/{name} {'validated' if dry_run else 'applied'} ({versions})")
        if dry_run:
            return
        deadline = time.monotonic() + established_within
        waiting = [m["metadata"]["name"] for m in manifests]
        while waiting:
            waiting = [n for n in waiting if not established(await retrying(partial(client.get, crds, n)))]
            if waiting and time.monotonic() > deadline:
                raise TimeoutError(f"not established after {established_within:.0f}s: {', '.join(waiting)}")
            if waiting:
                await asyncio.sleep(0.5)
        print("established")
    finally:
        await client.close()


async def retrying(call: Callable[[], Awaitable[T]], attempts: int = 8) -> T:
    """``call()``, again after 0.5, 1, 2, ... s while the API server is briefly unavailable."""
    from kubetune.kube import ApiError

    for attempt in range(attempts):
        try:
            return await call()
        except ApiError as e:
            if e.status not in RETRIED_STATUSES or attempt == attempts - 1:
                raise
            await asyncio.sleep(min(0.5 * 2**attempt, 8.0))
    raise AssertionError("unreachable")


# -- purge -----------------------------------------------------------------------------------------------------------
@dataclass
class PurgeResult:
    deleted: int = 0
    released: int = 0


def crds_purge(args: argparse.Namespace) -> int:
    result = asyncio.run(purge(args.kubeconfig, tuple(args.namespace), args.timeout, args.keep))
    kept = " (objects kept)" if args.keep else ""
    print(f"deleted {result.deleted} kubetune objects; removed the finalizer from {result.released}{kept}")
    return 0


def _resources() -> dict[str, Resource]:
    from kubetune.api import API_VERSION
    from kubetune.kube import Resource

    return {plural: Resource(API_VERSION, plural) for plural in PURGE_ORDER}


async def _objects(client: KubeClient, resource: Resource, namespaces: tuple[str, ...]) -> list[dict[str, Any]]:
    from kubetune.kube import NotFound

    found: list[dict[str, Any]] = []
    for namespace in namespaces or (None,):
        try:
            found += await retrying(partial(client.list, resource, namespace))
        except NotFound:  # the CRD (or the namespace) is gone: nothing of that kind is left there
            continue
    return found


async def _release(client: KubeClient, resource: Resource, obj: dict[str, Any]) -> bool:
    """Take kubetune's finalizer off ``obj``; False when it had none (or is gone)."""
    from kubetune.kube import Conflict, NotFound

    meta = obj["metadata"]
    for _ in range(5):
        finalizers = meta.get("finalizers") or []
        if FINALIZER not in finalizers:
            return False
        # The resourceVersion makes this a compare-and-swap: another writer's finalizer is never dropped.
        patch = {"metadata": {"finalizers": [f for f in finalizers if f != FINALIZER],
                              "resourceVersion": meta["resourceVersion"]}}
        try:
            await retrying(partial(client.patch, resource, meta["name"], patch, namespace=meta["namespace"]))
            return True
        except NotFound:
            return False
        except Conflict:
            fresh = await client.get_or_none(resource, meta["name"], meta["namespace"])
            if fresh is None:
                return False
            meta = fresh["metadata"]
    return False


async def _delete_undeleted(client: KubeClient, resources: dict[str, Resource], namespaces: tuple[str, ...],
                            result: PurgeResult) -> int:
    """Delete what is not being deleted yet, in PURGE_ORDER; return how many objects are left."""
    left = 0
    for plural in PURGE_ORDER:
        for obj in await _objects(client, resources[plural], namespaces):
            left += 1
            meta = obj["metadata"]
            if meta.get("deletionTimestamp"):
                continue
            if await retrying(partial(client.delete, resources[plural], meta["name"], meta["namespace"])) is not None:
                result.deleted += 1
                print(f"{plural}/{meta['namespace']}/{meta['name']} deleted")
    return left


async def _release_all(client: KubeClient, resources: dict[str, Resource], namespaces: tuple[str, ...],
                       result: PurgeResult) -> int:
    """Take kubetune's finalizer off every object in scope; return how many had it."""
    released = 0
    for plural in PURGE_ORDER:
        for obj in await _objects(client, resources[plural], namespaces):
            if await _release(client, resources[plural], obj):
                released += 1
                print(f"{plural}/{obj['metadata']['namespace']}/{obj['metadata']['name']}: finalizer removed")
    result.released += released
    return released


async def purge(kubeconfig: str | None, namespaces: tuple[str, ...], grace: float, keep: bool) -> PurgeResult:
    from kubetune.kube import KubeClient

    resources = _resources()
    result = PurgeResult()
    client = KubeClient.discover(kubeconfig)
    try:
        if not keep:
            # Listed again on every pass: a TrainingJob that succeeds while it is being deleted may still register a
            # FineTunedModel, which is deleted in turn.
            deadline = time.monotonic() + grace
            while await _delete_undeleted(client, resources, namespaces, result):
                if time.monotonic() > deadline:
                    print(f"still there after {grace:.0f}s: removing kubetune's finalizer (adapters may stay loaded)")
                    break
                await asyncio.sleep(1.0)
            else:
                return result
        # Until a pass finds nothing to release: an operator pod still shutting down may put its finalizer back once.
        deadline = time.monotonic() + grace
        while True:
            if not await _release_all(client, resources, namespaces, result) or time.monotonic() >= deadline:
                break
            await asyncio.sleep(2.0)
        if not keep:
            await _delete_undeleted(client, resources, namespaces, result)
        return result
    finally:
        await client.close()
