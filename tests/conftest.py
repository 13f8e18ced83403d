"""Shared fixtures: one real cluster, one Postgres server and one tiny model per session; a namespace and a database
per test. Everything here is real; nothing is mocked.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubetune.api import GROUP, VERSION
from kubetune.api.crdgen import crd_manifests
from kubetune_devcluster.controlplane import LocalCluster, start_cluster
from kubetune_devcluster.kubeapi import KubeREST
from kubetune_devcluster.postgres import PostgresServer, start_postgres
from kubetune_devcluster.tinymodel import cached_tiny_model

REPO = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("KUBETUNE_CACHE", Path.home() / ".cache" / "kubetune"))


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """The real control plane with a process node (2 advertised GPUs)."""
    root = tmp_path_factory.mktemp("cluster")
    cluster = start_cluster(root=root, gpus=2)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def kube(cluster: LocalCluster) -> KubeREST:
    return cluster.api


@pytest.fixture
def namespace_prefix() -> str:
    """Prepended to test namespaces; the e2e tests set one their operator watches (and nothing else does)."""
    return ""


@pytest.fixture
def namespace(cluster: LocalCluster, kube: KubeREST, request: pytest.FixtureRequest,
              namespace_prefix: str) -> Iterator[str]:
    """A fresh namespace per test, deleted afterwards (the pods in it are stopped by the process node)."""
    base = request.node.name.lower().replace("_", "-")
    name = f"{namespace_prefix}{base[:40].strip('-[]')}-{uuid.uuid4().hex[:6]}".replace("[", "-").replace("]", "")
    cluster.create_namespace(name)
    yield name
    kube.delete(KubeREST.path_for("Namespace", name=name))


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    # Its own temporary root: pytest's is private to root, and the server runs as the unprivileged postgres user.
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def database(postgres: PostgresServer) -> str:
    """A fresh database per test; returns its URL."""
    return postgres.create_database(f"t_{uuid.uuid4().hex[:10]}")


@pytest.fixture(scope="session")
def tiny_model() -> Path:
    """A tiny random Llama with a byte-level BPE tokenizer, built once and cached outside the repo."""
    return cached_tiny_model(CACHE / "models")



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
