"""Fixtures for tests against the real control plane that need more than the cluster itself."""

from __future__ import annotations

import time
from typing import Any

import pytest
from kubetune.api import GROUP, VERSION
from kubetune.api.crdgen import crd_manifests
from kubetune.devcluster.kubeapi import KubeREST


def _established(crd: dict[str, Any]) -> bool:
    conditions = (crd.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)


@pytest.fixture(scope="session")
def crds(kube: KubeREST) -> list[dict[str, Any]]:
    """kubetune's CRDs, generated from the models, installed and Established; returns them as stored."""
    names = []
    for manifest in crd_manifests():
        kube.apply(manifest)
        names.append(manifest["metadata"]["name"])
    deadline = time.monotonic() + 30
    while True:
        stored = [kube.get(KubeREST.path_for("CustomResourceDefinition", name=n)) for n in names]
        # Established alone can precede the group appearing in discovery; clients need both.
        served = {r["name"] for r in (kube.get_or_none(f"/apis/{GROUP}/{VERSION}") or {}).get("resources", [])}
        if all(_established(c) for c in stored) and {c["spec"]["names"]["plural"] for c in stored} <= served:
            return stored
        if time.monotonic() > deadline:
            raise TimeoutError(f"CRDs not established and served after 30s: {names}")
        time.sleep(0.2)
