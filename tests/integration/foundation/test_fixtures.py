"""The vLLM and Postgres fixtures are real: vLLM CPU serves the tiny model from a Deployment; Postgres answers SQL."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from kubetune_devcluster import vllm_server
from kubetune_devcluster.kubeapi import KubeREST
from kubetune_devcluster.postgres import PostgresServer
from kubetune_devcluster.processnode.containers import container_pids
from kubetune_devcluster.waiting import wait_for


@pytest.mark.cluster
@pytest.mark.vllm
def test_vllm_deployment_turns_ready_and_serves_on_each_pod_ip(kube: KubeREST, namespace: str,
                                                                tiny_model: Path) -> None:
    manifest = vllm_server.vllm_deployment("vllm", tiny_model, served_name="tiny-llama", replicas=2)
    manifest["metadata"]["namespace"] = namespace
    kube.create(KubeREST.path_for("Deployment", namespace), manifest)
    wait_for(lambda: kube.get(KubeREST.path_for("Deployment", namespace, "vllm"))["status"].get("readyReplicas") == 2,
             300, interval=1, what="2 ready vLLM replicas")
    pods = kube.get(KubeREST.path_for("Pod", namespace), labelSelector="app=vllm")["items"]
    assert len({p["status"]["podIP"] for p in pods}) == 2
    for p in pods:
        served = vllm_server.models(f"http://{p['status']['podIP']}:8000")
        assert [m["id"] for m in served] == ["tiny-llama"]
        assert vllm_server.completion(f"http://{p['status']['podIP']}:8000", "tiny-llama", "Hello", max_tokens=4)

    # Issue 9: vLLM's engine processes used to outlive their pods. Every process of both pods ends with them.
    processes = {pid: comm(pid) for p in pods for pid in container_pids(
        int(p["status"]["containerStatuses"][0]["containerID"].removeprefix("process://")))}
    assert sum(name.startswith("VLLM::EngineCor") for name in processes.values()) == 2, processes
    kube.delete(KubeREST.path_for("Deployment", namespace, "vllm"), {"propagationPolicy": "Foreground"})
    wait_for(lambda: not [pid for pid, name in processes.items() if comm(pid) == name], 120, interval=0.5,
             what="every vLLM process to end")


def comm(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None


@pytest.mark.postgres
def test_postgres_fixture_accepts_connections(database: str, postgres: PostgresServer) -> None:
    with psycopg.connect(database) as conn:
        conn.execute("create table t (id int primary key, body text)")
        conn.execute("insert into t values (1, 'gold star')")
        assert conn.execute("select body from t").fetchone() == ("gold star",)
        assert conn.execute("show server_version").fetchone()[0].startswith("15")
