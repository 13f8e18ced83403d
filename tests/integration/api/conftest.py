"""Helpers for the API tests: custom-resource paths and the example manifests."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubetune.api import API_VERSION, KINDS
from kubetune_devcluster.kubeapi import KubeREST

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
Json = dict[str, Any]


def load_example(file_name: str) -> Json:
    """The custom resource in an example file (a deep copy, safe to mutate)."""
    docs = [d for d in yaml.safe_load_all((EXAMPLES / file_name).read_text()) if d and d.get("kind") in KINDS]
    assert len(docs) == 1, f"{file_name}: expected one kubetune resource"
    return copy.deepcopy(docs[0])


@dataclass
class CustomResources:
    """Create, read and patch kubetune resources in one namespace."""

    kube: KubeREST
    namespace: str

    def path(self, kind: str, name: str | None = None, subresource: str | None = None) -> str:
        return KubeREST.path_for(kind, self.namespace, name, api_version=API_VERSION,
                                 plural=KINDS[kind].crd.plural, subresource=subresource)

    def create(self, body: Json, dry_run: bool = False) -> Json:
        body = {**body, "metadata": {**body["metadata"], "namespace": self.namespace}}
        query = {"dryRun": "All"} if dry_run else None
        return self.kube.request("POST", self.path(body["kind"]), body, query=query)

    def get(self, kind: str, name: str) -> Json:
        return self.kube.get(self.path(kind, name))

    def patch(self, kind: str, name: str, patch: Json, subresource: str | None = None) -> Json:
        return self.kube.patch(self.path(kind, name, subresource), patch)


@pytest.fixture
def custom(kube: KubeREST, namespace: str, crds: list[Json]) -> CustomResources:
    return CustomResources(kube, namespace)


@pytest.fixture
def example() -> Callable[[str], Json]:
    return load_example


@pytest.fixture(scope="module")
def module_custom(cluster: Any, kube: KubeREST, crds: list[Json]) -> Any:
    """A namespace shared by one test module, for tests that never leave objects behind that matter."""
    name = f"api-{uuid.uuid4().hex[:8]}"
    cluster.create_namespace(name)
    yield CustomResources(kube, name)
    kube.delete(KubeREST.path_for("Namespace", name=name))
