"""``kubetune db``: upgrade and current on Postgres and SQLite; resync rebuilds the current-state tables from the
cluster; errors are one line, without a traceback or a password."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cluster_objects import finetunedmodel, path, trainingjob
from store_rows import rows
from store_rows import trainingjob as trainingjob_body

from kubetune.store import head
from kubetune.store.database import make_engine
from kubetune.store.mirror import apply_listing
from kubetune_devcluster.controlplane import LocalCluster
from kubetune_devcluster.kubeapi import KubeREST

KUBETUNE = str(Path(sys.executable).parent / "kubetune")


def kubetune(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KUBETUNE, *args], capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.postgres
def test_upgrade_then_current(store_url: str) -> None:
    before = kubetune("db", "current", "--url", store_url)
    assert before.returncode == 0
    assert "none (empty database)" in before.stdout and "kubetune db upgrade" in before.stdout
    upgraded = kubetune("db", "upgrade", "--url", store_url)
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout.strip().endswith(f"schema at version {head()}")
    after = kubetune("db", "current", "--url", store_url)
    assert f"schema at version {head()} (up to date)" in after.stdout


def test_the_embedded_database_by_default(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "KUBETUNE_STATE_DIR": str(tmp_path / "state")}
    done = kubetune("db", "upgrade", env=env)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "state" / "kubetune.db").exists()


@pytest.mark.parametrize(("args", "message"), [
    (("db", "upgrade", "--url", "postgresql://mirror:hunter2@127.0.0.1:1/kubetune"), "cannot reach"),
    (("db", "current", "--url", "postgresql://mirror:hunter2@127.0.0.1:1/kubetune"), "cannot reach"),
    (("db", "upgrade", "--url", "mysql://mirror:hunter2@db/kubetune"), "unsupported database 'mysql'"),
    (("db", "resync", "--url", "sqlite:////tmp/x.db", "--kubeconfig", "/nonexistent"), "cannot read the kubeconfig"),
    (("db", "upgrade", "--url", "postgresql://mirror:hunter2@db:port/kubetune"), "not a database URL"),
])
def test_errors_are_one_line_without_the_password(args: tuple[str, ...], message: str) -> None:
    done = kubetune(*args)
    assert done.returncode == 1
    assert message in done.stderr and done.stderr.startswith("kubetune db ")
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert "hunter2" not in done.stderr + done.stdout


@pytest.mark.cluster
@pytest.mark.postgres
def test_resync_rebuilds_current_state(cluster: LocalCluster, kube: KubeREST, crds: Any, namespace: str,
                                       store_url: str) -> None:
    assert kubetune("db", "upgrade", "--url", store_url).returncode == 0
    created = [kube.create(path("trainingjobs", namespace), trainingjob("resync-a")),
               kube.create(path("finetunedmodels", namespace), finetunedmodel("resync-a-v1"))]
    engine = make_engine(store_url)
    try:
        # A row for a TrainingJob deleted while no operator watched; and one in a namespace the resync leaves alone.
        apply_listing(engine, {"TrainingJob": [trainingjob_body("old", "5", "Succeeded", "uid-old", namespace),
                                               trainingjob_body("else", "5", "Running", "uid-else", "elsewhere")]},
                      datetime.now(UTC))
        wrong_context = kubetune("db", "resync", "--url", store_url, "--kubeconfig", str(cluster.kubeconfig),
                                 "--context", "nope")
        assert wrong_context.returncode == 1 and "no context nope" in wrong_context.stderr

        done = kubetune("db", "resync", "--url", store_url, "--kubeconfig", str(cluster.kubeconfig), "-n", namespace)
        assert done.returncode == 0, done.stderr
        assert "training_jobs: 1 in the cluster, 1 marked deleted" in done.stdout
        assert "fine_tuned_models: 1 in the cluster, 0 marked deleted" in done.stdout
        jobs = {name: deleted is not None for name, deleted in rows(engine, "select name, deleted_at from "
                                                                            "training_jobs")}
        assert jobs == {"resync-a": False, "old": True, "else": False}
        assert rows(engine, "select uid, served_name from fine_tuned_models") == [
            (created[1]["metadata"]["uid"], "resync-a-v1")]
    finally:
        engine.dispose()
