"""Pod names resolve inside pods on the process node as on a kubelet with cluster DNS: each pod has its own hostname
and /etc/hosts, and the pods of a headless Service reach each other as <hostname>.<service>, including a peer that
gets its address after the pod that looks it up started."""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from kubetune_devcluster.kubeapi import KubeREST
from kubetune_devcluster.waiting import wait_for

pytestmark = pytest.mark.cluster


def pod(name: str, script: str, labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    container = {"name": "main", "image": "python:3.11", "command": ["python3", "-c", textwrap.dedent(script)],
                 "env": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}]}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {}},
            "spec": {"restartPolicy": "Never", "containers": [container], **spec}}


def finished(kube: KubeREST, namespace: str, name: str, timeout: float = 90) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        found = kube.get(KubeREST.path_for("Pod", namespace, name))
        return found if found["status"].get("phase") in ("Succeeded", "Failed") else None

    return wait_for(done, timeout, what=f"pod {name} to finish")


def report(pod_obj: dict[str, Any]) -> dict[str, Any]:
    state = pod_obj["status"]["containerStatuses"][0]["state"]["terminated"]
    assert state["exitCode"] == 0, state
    return dict(json.loads(state["message"]))


def test_a_pod_has_its_own_hostname_and_hosts_file(kube: KubeREST, namespace: str) -> None:
    host_hosts = Path("/etc/hosts").read_text()
    script = """
        import json, os, socket
        result = {"hostname": socket.gethostname(), "self": socket.gethostbyname(socket.gethostname()),
                  "localhost": socket.gethostbyname("localhost"), "hosts": open("/etc/hosts").read()}
        open("/dev/termination-log", "w").write(json.dumps(result))
    """
    kube.create(KubeREST.path_for("Pod", namespace), pod("solo", script))
    done = finished(kube, namespace, "solo")
    result = report(done)
    assert result["hostname"] == "solo"
    assert result["self"] == done["status"]["podIP"]
    assert result["localhost"] == "127.0.0.1"
    assert result["hosts"].startswith("# Kubernetes-managed hosts file.")
    assert Path("/etc/hosts").read_text() == host_hosts  # the host's own file is untouched


def test_pods_of_a_headless_service_reach_each_other_by_name(kube: KubeREST, namespace: str) -> None:
    kube.create(KubeREST.path_for("Service", namespace), {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "peers"},
        "spec": {"clusterIP": "None", "publishNotReadyAddresses": True, "selector": {"app": "peers"},
                 "ports": [{"name": "talk", "port": 7000}]}})
    client = """
        import json, os, socket, time
        deadline = time.monotonic() + 60
        while True:  # the peer starts after this pod: its record appears in /etc/hosts when it has an address
            try:
                peer = socket.gethostbyname("b.peers")
                break
            except OSError:
                assert time.monotonic() < deadline, "b.peers never resolved"
                time.sleep(0.2)
        while True:
            try:
                with socket.create_connection(("b.peers", 7000), timeout=2) as conn:
                    reply = conn.recv(100).decode()
                break
            except OSError:
                assert time.monotonic() < deadline, "b.peers never answered"
                time.sleep(0.2)
        def resolves(name):
            try:
                return socket.gethostbyname(name)
            except OSError:
                return None
        result = {"hostname": socket.gethostname(), "peer": peer, "reply": reply,
                  "self_fqdn": resolves(f"a.peers.{os.environ['NAMESPACE']}.svc.cluster.local"),
                  "outsider": resolves("c.peers")}
        open("/dev/termination-log", "w").write(json.dumps(result))
    """
    server = """
        import os, socket
        with socket.create_server((os.environ["POD_IP"], 7000)) as listener:
            conn, _ = listener.accept()
            with conn:
                conn.sendall(socket.gethostname().encode())
    """
    namespace_env = {"name": "NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}
    first = pod("client", client, {"app": "peers"}, hostname="a", subdomain="peers")
    first["spec"]["containers"][0]["env"].append(namespace_env)
    kube.create(KubeREST.path_for("Pod", namespace), first)
    # Selected by nothing: a pod in the subdomain that the Service does not select gets no record.
    kube.create(KubeREST.path_for("Pod", namespace),
                pod("outsider", "import time; time.sleep(60)", {"app": "other"}, hostname="c", subdomain="peers"))
    wait_for(lambda: kube.get(KubeREST.path_for("Pod", namespace, "client"))["status"].get("phase") == "Running",
             60, what="the client pod to run")
    time.sleep(1)
    kube.create(KubeREST.path_for("Pod", namespace),
                pod("server", server, {"app": "peers"}, hostname="b", subdomain="peers"))

    result = report(finished(kube, namespace, "client"))
    server_pod = finished(kube, namespace, "server")
    client_pod = kube.get(KubeREST.path_for("Pod", namespace, "client"))
    assert result["hostname"] == "a"
    assert result["peer"] == server_pod["status"]["podIP"] != client_pod["status"]["podIP"]
    assert result["reply"] == "b"  # the server's own hostname, through its own UTS namespace
    assert result["self_fqdn"] == client_pod["status"]["podIP"]
    assert result["outsider"] is None
