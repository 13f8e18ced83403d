"""No secret reaches the mirror: after mirroring objects that reference Secrets (a Postgres dataset source whose URL
holds a password, a serving target with an API key), with the mirror's own URL holding a password, a dump of the
whole database and the mirror's log contain none of the secret values."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cluster_objects import finetunedmodel, path, secret, trainingjob

from kubetune.kube import KubeClient
from kubetune.kube.client import Connection
from kubetune.store import Mirror, MirrorSettings, cluster_lister, upgrade
from kubetune_devcluster.controlplane import LocalCluster
from kubetune_devcluster.kubeapi import KubeREST
from kubetune_devcluster.postgres import PostgresServer

pytestmark = [pytest.mark.cluster, pytest.mark.postgres]

DATASET_PASSWORD = "pg-Secret-7f3a9c"
API_KEY = "sk-vllm-2b8e41d0"
MIRROR_PASSWORD = "mirror-Pw-5d6e"
SECRETS = (DATASET_PASSWORD, API_KEY, MIRROR_PASSWORD)


def mirror_url(kind: str, postgres: PostgresServer, tmp_path: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'mirror.db'}"
    database = postgres.create_database(f"secrets_{tmp_path.name[-8:].replace('-', '_')}")
    name = database.rsplit("/", 1)[1]
    with psycopg.connect(postgres.url, autocommit=True) as connection:
        connection.execute("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'mirror') THEN "
                           f"CREATE ROLE mirror LOGIN PASSWORD '{MIRROR_PASSWORD}'; END IF; END $$")
        connection.execute(f'ALTER DATABASE "{name}" OWNER TO mirror')
    return f"postgresql://mirror:{MIRROR_PASSWORD}@127.0.0.1:{postgres.port}/{name}"


def dump(kind: str, url: str, postgres: PostgresServer) -> str:
    if kind == "sqlite":
        with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
            return "\n".join(connection.iterdump())
    name = url.rsplit("/", 1)[1]
    done = subprocess.run([str(postgres.bin_dir / "pg_dump"), "-h", "127.0.0.1", "-p", str(postgres.port),
                           "-U", "kubetune", "--data-only", "--inserts", name],
                          capture_output=True, text=True, check=True)
    return done.stdout


@pytest.mark.parametrize("kind", ["postgres", "sqlite"])
async def test_no_secret_in_any_row(kind: str, cluster: LocalCluster, kube: KubeREST, crds: Any, namespace: str,
                                    postgres: PostgresServer, tmp_path: Path,
                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="kubetune")
    kube.create(KubeREST.path_for("Secret", namespace), secret(
        "appdb", "url", f"postgresql://reader:{DATASET_PASSWORD}@db.internal:5432/app"))
    kube.create(KubeREST.path_for("Secret", namespace), secret("vllm", "api-key", API_KEY))
    serving = {"targets": [{"deployment": "vllm", "port": 8000,
                            "apiKeySecretRef": {"name": "vllm", "key": "api-key"}}]}
    job = kube.create(path("trainingjobs", namespace), trainingjob("gold", source={"postgres": {
        "secretRef": {"name": "appdb", "key": "url"}, "query": "select q, a from conversations where gold_star",
        "mapping": {"prompt": "q", "completion": "a"}}}, serving=serving))
    model = kube.create(path("finetunedmodels", namespace), finetunedmodel("gold-v1", serving=serving))

    url = mirror_url(kind, postgres, tmp_path)
    upgrade(url)
    client = KubeClient(Connection.from_kubeconfig(str(cluster.kubeconfig)))
    mirror = Mirror(url, cluster_lister(client, [namespace]), MirrorSettings(relist_interval=0))
    try:
        await mirror.start()
        # What the operator records about these objects: watch events, a loss curve, a load that failed.
        for body in (job, model):
            mirror.observe("ADDED", body)
        mirror.record_training_metrics(job["metadata"]["uid"], [{"step": 10, "loss": 1.5}])
        mirror.record_deployment(model_uid=model["metadata"]["uid"], namespace=namespace, model="gold-v1",
                                 target="vllm", pod="vllm-0", action="load", outcome="failed",
                                 message="vLLM refused the adapter: 401 Unauthorized", occurred_at=datetime.now(UTC))
        assert await mirror.flush(20)
        await asyncio.sleep(0.5)  # the start-up relist lists the cluster too
        assert await mirror.flush(20)
        assert mirror.stats.relists >= 1
    finally:
        await mirror.stop()
        await client.close()

    text = dump(kind, url, postgres)
    assert "gold_star" in text and job["metadata"]["uid"] in text  # the dump has the rows
    assert "appdb" in text and "api-key" in text  # the references are kept: they name Secrets, not their values
    for value in SECRETS:
        assert value not in text
        assert value not in caplog.text
