"""The operator's async client against the session's real API server, for the controllers' integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from kubetune.kube import KubeClient
from kubetune_devcluster.controlplane import LocalCluster


@pytest.fixture
async def client(cluster: LocalCluster) -> AsyncIterator[KubeClient]:
    kube = KubeClient.discover(str(cluster.kubeconfig))
    yield kube
    await kube.close()
