"""The test ground itself: the real control plane schedules, the process node runs pods as a kubelet would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kubetune_devcluster.controlplane import LocalCluster
from kubetune_devcluster.kubeapi import ApiError, Connection, KubeREST
from kubetune_devcluster.lifetime import die_with_parent
from kubetune_devcluster.waiting import wait_for

pytestmark = pytest.mark.cluster


def pod(name: str, script: str, **spec: Any) -> dict[str, Any]:
    container = {"name": "main", "image": "python:3.11", "command": ["python3", "-c", textwrap.dedent(script)]}
    container.update(spec.pop("container", {}))
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"restartPolicy": "Never", "containers": [container], **spec}}


def create(kube: KubeREST, namespace: str, manifest: dict[str, Any]) -> dict[str, Any]:
    manifest = {**manifest, "metadata": {**manifest["metadata"], "namespace": namespace}}
    return kube.apply(manifest)


def get_pod(kube: KubeREST, namespace: str, name: str) -> dict[str, Any]:
    return kube.get(KubeREST.path_for("Pod", namespace, name))


def finished_pod(kube: KubeREST, namespace: str, name: str, timeout: float = 60) -> dict[str, Any]:
    return wait_for(lambda: (p := get_pod(kube, namespace, name))["status"].get("phase") in ("Succeeded", "Failed")
                    and p, timeout, what=f"pod {name} to finish")


def termination(pod_obj: dict[str, Any]) -> dict[str, Any]:
    return pod_obj["status"]["containerStatuses"][0]["state"]["terminated"]


def test_job_completes_through_job_controller_scheduler_and_node(kube: KubeREST, namespace: str,
                                                                  cluster: LocalCluster) -> None:
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "hello"},
           "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never", "containers": [
               {"name": "main", "image": "python:3.11",
                "command": ["python3", "-c", "import sys; print('hello from', sys.argv[1])", "$(POD_NAME)"],
                "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]}]}}}}
    create(kube, namespace, job)
    done = wait_for(lambda: (j := kube.get(KubeREST.path_for("Job", namespace, "hello")))["status"].get("succeeded")
                    and j, 60, what="job to succeed")
    assert any(c["type"] == "Complete" and c["status"] == "True" for c in done["status"]["conditions"])
    pods = kube.get(KubeREST.path_for("Pod", namespace), labelSelector="job-name=hello")["items"]
    assert len(pods) == 1
    assert pods[0]["spec"]["nodeName"] == "process-node"
    assert f"hello from {pods[0]['metadata']['name']}" in cluster.pod_log(namespace, pods[0]["metadata"]["name"])


def test_deployment_pods_get_distinct_ips_and_answer_http(kube: KubeREST, namespace: str) -> None:
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{
                "name": "web", "image": "python:3.11",
                "command": ["python3", "-c", textwrap.dedent("""
                    import http.server, os
                    class H(http.server.BaseHTTPRequestHandler):
                        def do_GET(self):
                            body = os.environ["HOSTNAME"].encode()
                            self.send_response(200); self.end_headers(); self.wfile.write(body)
                    http.server.HTTPServer((os.environ["POD_IP"], 8080), H).serve_forever()
                """)],
                "env": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
                "ports": [{"name": "http", "containerPort": 8080}],
                "readinessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 1},
            }]},
        }},
    }
    create(kube, namespace, deployment)
    wait_for(lambda: kube.get(KubeREST.path_for("Deployment", namespace, "web"))["status"].get("readyReplicas") == 2,
             90, what="2 ready replicas")
    pods = kube.get(KubeREST.path_for("Pod", namespace), labelSelector="app=web")["items"]
    ips = {p["status"]["podIP"] for p in pods}
    assert len(ips) == 2
    for p in pods:
        assert p["status"]["podIP"].startswith("127.")
        with urllib.request.urlopen(f"http://{p['status']['podIP']}:8080/", timeout=5) as resp:
            assert resp.read().decode() == p["metadata"]["name"]


def test_pod_reads_configmap_and_uses_its_service_account_token(kube: KubeREST, namespace: str) -> None:
    kube.create(KubeREST.path_for("ConfigMap", namespace), {"apiVersion": "v1", "kind": "ConfigMap",
                                                             "metadata": {"name": "settings"},
                                                             "data": {"greeting": "hello volume"}})
    kube.create(KubeREST.path_for("ServiceAccount", namespace), {"apiVersion": "v1", "kind": "ServiceAccount",
                                                                  "metadata": {"name": "reader"}})
    kube.create(KubeREST.path_for("Role", namespace), {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "cm-reader"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]})
    kube.create(KubeREST.path_for("RoleBinding", namespace), {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "cm-reader"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cm-reader"},
        "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": namespace}]})
    script = """
        import json, os, ssl, urllib.request
        sa = "/var/run/secrets/kubernetes.io/serviceaccount"
        token = open(f"{sa}/token").read()
        ns = open(f"{sa}/namespace").read()
        ctx = ssl.create_default_context(cafile=f"{sa}/ca.crt")
        host, port = os.environ["KUBERNETES_SERVICE_HOST"], os.environ["KUBERNETES_SERVICE_PORT"]
        req = urllib.request.Request(f"https://{host}:{port}/api/v1/namespaces/{ns}/configmaps/settings",
                                     headers={"Authorization": f"Bearer {token}"})
        cm = json.load(urllib.request.urlopen(req, context=ctx))
        result = {"volume": open("/etc/settings/greeting").read(), "api": cm["data"]["greeting"], "ns": ns}
        open("/dev/termination-log", "w").write(json.dumps(result))
    """
    create(kube, namespace, pod("reader", script, serviceAccountName="reader", container={
        "volumeMounts": [{"name": "settings", "mountPath": "/etc/settings", "readOnly": True}]},
        volumes=[{"name": "settings", "configMap": {"name": "settings"}}]))
    done = finished_pod(kube, namespace, "reader")
    state = termination(done)
    assert state["exitCode"] == 0, state
    assert json.loads(state["message"]) == {"volume": "hello volume", "api": "hello volume", "ns": namespace}
    # The host path stays empty: the ConfigMap was mounted only inside the pod's mount namespace.
    assert not os.path.exists("/etc/settings/greeting")


def test_rbac_denies_a_service_account_without_a_role(kube: KubeREST, namespace: str) -> None:
    script = """
        import os, ssl, urllib.error, urllib.request
        sa = "/var/run/secrets/kubernetes.io/serviceaccount"
        ctx = ssl.create_default_context(cafile=f"{sa}/ca.crt")
        url = f"https://{os.environ['KUBERNETES_SERVICE_HOST']}:{os.environ['KUBERNETES_SERVICE_PORT']}"
        req = urllib.request.Request(url + "/api/v1/namespaces/default/secrets",
                                     headers={"Authorization": "Bearer " + open(f"{sa}/token").read()})
        try:
            urllib.request.urlopen(req, context=ctx)
            code = 200
        except urllib.error.HTTPError as e:
            code = e.code
        open("/dev/termination-log", "w").write(str(code))
    """
    create(kube, namespace, pod("snoop", script))
    assert termination(finished_pod(kube, namespace, "snoop"))["message"] == "403"


def test_no_token_is_mounted_when_automount_is_off(kube: KubeREST, namespace: str) -> None:
    script = """
        import os
        present = os.path.exists("/var/run/secrets/kubernetes.io/serviceaccount/token")
        open("/dev/termination-log", "w").write(str(present))
    """
    create(kube, namespace, pod("tokenless", script, automountServiceAccountToken=False))
    assert termination(finished_pod(kube, namespace, "tokenless"))["message"] == "False"


def test_deleting_a_pod_ends_its_process(kube: KubeREST, namespace: str) -> None:
    create(kube, namespace, pod("sleeper", "import time; time.sleep(600)", terminationGracePeriodSeconds=2))
    running = wait_for(lambda: (p := get_pod(kube, namespace, "sleeper"))["status"].get("phase") == "Running" and p,
                       30, what="pod running")
    pid = int(running["status"]["containerStatuses"][0]["containerID"].removeprefix("process://"))
    os.kill(pid, 0)  # alive
    kube.delete(KubeREST.path_for("Pod", namespace, "sleeper"))
    wait_for(lambda: kube.get_or_none(KubeREST.path_for("Pod", namespace, "sleeper")) is None, 30,
             what="pod object removed")

    def gone() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    wait_for(gone, 10, what=f"process {pid} to exit")


def test_failed_container_reports_exit_code_and_termination_message(kube: KubeREST, namespace: str) -> None:
    script = """
        import sys
        open("/dev/termination-log", "w").write("dataset line 3: empty content")
        sys.exit(3)
    """
    create(kube, namespace, pod("fails", script))
    done = finished_pod(kube, namespace, "fails")
    assert done["status"]["phase"] == "Failed"
    state = termination(done)
    assert (state["exitCode"], state["reason"]) == (3, "Error")
    assert state["message"] == "dataset line 3: empty content"


def test_memory_limit_is_enforced_as_oomkilled(kube: KubeREST, namespace: str) -> None:
    script = """
        import time
        hog = bytearray(300 * 1024 * 1024)
        for i in range(0, len(hog), 4096):
            hog[i] = 1
        time.sleep(60)
    """
    create(kube, namespace, pod("hog", script, container={"resources": {"limits": {"memory": "100Mi"}}}))
    state = termination(finished_pod(kube, namespace, "hog"))
    assert (state["exitCode"], state["reason"]) == (137, "OOMKilled")


def test_secret_env_pvc_and_restart_policy(kube: KubeREST, namespace: str, cluster: LocalCluster) -> None:
    kube.create(KubeREST.path_for("Secret", namespace), {"apiVersion": "v1", "kind": "Secret",
                                                          "metadata": {"name": "creds"},
                                                          "stringData": {"url": "postgresql://x"}})
    kube.create(KubeREST.path_for("PersistentVolumeClaim", namespace), {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
    # Fails on the first run and succeeds on the second: OnFailure restarts it in place.
    script = """
        import os, pathlib, sys
        marker = pathlib.Path("/data/attempts")
        attempts = int(marker.read_text()) + 1 if marker.exists() else 1
        marker.write_text(str(attempts))
        open("/dev/termination-log", "w").write(os.environ["DB_URL"] + " " + str(attempts))
        sys.exit(0 if attempts >= 2 else 1)
    """
    create(kube, namespace, pod("retry", script, restartPolicy="OnFailure", container={
        "env": [{"name": "DB_URL", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "url"}}}],
        "volumeMounts": [{"name": "data", "mountPath": "/data"}]},
        volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]))
    done = finished_pod(kube, namespace, "retry")
    status = done["status"]["containerStatuses"][0]
    assert done["status"]["phase"] == "Succeeded"
    assert status["restartCount"] == 1
    assert status["state"]["terminated"]["message"] == "postgresql://x 2"
    assert (cluster.volume_path(namespace, "data") / "attempts").read_text() == "2"


def test_pod_asking_for_more_gpus_than_the_node_has_stays_pending(kube: KubeREST, namespace: str) -> None:
    create(kube, namespace, pod("greedy", "print(1)", container={
        "resources": {"limits": {"nvidia.com/gpu": "8"}}}))

    def unschedulable() -> str | None:
        conditions = get_pod(kube, namespace, "greedy")["status"].get("conditions") or []
        scheduled = next((c for c in conditions if c["type"] == "PodScheduled"), None)
        return scheduled.get("message") if scheduled and scheduled["status"] == "False" else None

    message = wait_for(unschedulable, 30, what="the scheduler's verdict")
    assert "Insufficient nvidia.com/gpu" in message


def test_rbac_is_enforced_for_plain_clients(kube: KubeREST, namespace: str, cluster: LocalCluster) -> None:
    kube.create(KubeREST.path_for("ServiceAccount", namespace), {"apiVersion": "v1", "kind": "ServiceAccount",
                                                                  "metadata": {"name": "nobody"}})
    token = kube.create(KubeREST.path("v1", "serviceaccounts", namespace, "nobody", "token"),
                        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}})
    nobody = KubeREST(Connection(server=cluster.server, ca_data=kube.connection.ca_pem(),
                                 token=token["status"]["token"]))
    with pytest.raises(ApiError) as denied:
        nobody.get(KubeREST.path_for("Pod", namespace))
    assert denied.value.status == 403


def test_a_volume_over_the_environments_directory_does_not_hide_it(kube: KubeREST, namespace: str) -> None:
    # Images are the node's own environment; an emptyDir mounted over its parent (as /tmp is, when the checkout lives
    # under /tmp) must not take the interpreter away.
    import sys

    parent = os.path.dirname(sys.prefix)
    script = """
        import os, sys, kubetune
        listing = sorted(os.listdir(os.path.dirname(sys.prefix)))
        open("/dev/termination-log", "w").write(sys.prefix + " " + ",".join(listing))
    """
    create(kube, namespace, pod("hidden", script, container={
        "command": ["python", "-c", textwrap.dedent(script)],
        "volumeMounts": [{"name": "scratch", "mountPath": parent}]},
        volumes=[{"name": "scratch", "emptyDir": {}}]))
    state = termination(finished_pod(kube, namespace, "hidden"))
    assert state["exitCode"] == 0, state
    prefix, listing = state["message"].split(" ", 1)
    assert prefix == sys.prefix
    # Inside the pod the parent is the empty volume, holding only what was mounted back (the environment, and the
    # package source when it is installed in place), none of the directory's other files.
    shown = set(listing.split(","))
    assert os.path.basename(sys.prefix) in shown
    assert shown < set(os.listdir(parent))


# -- every process of a pod ends with it (its own PID namespace) ----------------------------------------------------
# The main process, a child that leaves its process group, and a daemon (new session, double fork, its parent gone):
# what vLLM's EngineCore and Worker processes look like to a process-group kill, which used to miss them.
TREE = """
    import os, time
    if os.fork() == 0:
        os.setpgid(0, 0)
        time.sleep(600)
        os._exit(0)
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            time.sleep(600)
            os._exit(0)
        os._exit(0)
    time.sleep(600)
"""


def tree_pod(name: str, marker: str, **spec: Any) -> dict[str, Any]:
    # The marker is an argument, so every process of the tree shows it in its host /proc/<pid>/cmdline.
    return pod(name, TREE, container={"command": ["python3", "-c", textwrap.dedent(TREE), marker]},
               terminationGracePeriodSeconds=2, **spec)


def processes_with(marker: str) -> dict[int, tuple[int, int]]:
    """Live host processes whose command line holds ``marker``: pid -> (process group, session)."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if marker.encode() not in f.read().split(b"\0"):
                    continue
            found[int(entry)] = (os.getpgid(int(entry)), os.getsid(int(entry)))
        except OSError:
            continue
    return found


def running_tree(marker: str, processes: int = 3) -> dict[int, tuple[int, int]]:
    """The pod's three processes once each has its own process group and two have their own session (a child that
    was just forked has its parent's until it calls setpgid/setsid: wait for that too)."""
    def settled() -> dict[int, tuple[int, int]] | None:
        found = processes_with(marker)
        if len(found) != processes or len({pgid for pgid, _ in found.values()}) != 3 or \
                len({sid for _, sid in found.values()}) != 2:
            return None
        return found

    # A kill by process group or session would miss some of them: the test would fail without the namespace.
    tree: dict[int, tuple[int, int]] = wait_for(settled, 60, what=f"{processes} processes of {marker}, in 3 process "
                                                "groups and 2 sessions")
    return tree


def test_deleting_a_pod_ends_its_whole_process_tree(kube: KubeREST, namespace: str) -> None:
    marker = f"tree-{uuid.uuid4().hex}"
    create(kube, namespace, tree_pod("tree", marker))
    running_tree(marker)
    kube.delete(KubeREST.path_for("Pod", namespace, "tree"))
    wait_for(lambda: not processes_with(marker), 30, what=f"every process of {marker} to end")
    wait_for(lambda: kube.get_or_none(KubeREST.path_for("Pod", namespace, "tree")) is None, 30,
             what="pod object removed")


def test_a_container_sees_only_its_own_processes(kube: KubeREST, namespace: str) -> None:
    # /proc is the namespace's own; the command runs as PID 2 under the launcher, its init.
    script = """
        import os
        pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
        open("/dev/termination-log", "w").write(json.dumps({"pid": os.getpid(), "pids": pids}))
    """
    create(kube, namespace, pod("alone", "import json\n" + textwrap.dedent(script)))
    state = termination(finished_pod(kube, namespace, "alone"))
    assert state["exitCode"] == 0, state
    assert json.loads(state["message"]) == {"pid": 2, "pids": [1, 2]}


def test_deleting_a_pod_sends_sigterm_to_its_command(kube: KubeREST, namespace: str, cluster: LocalCluster) -> None:
    # The launcher, the namespace's init, forwards the node's SIGTERM to the command (which, not being PID 1, also
    # dies of it when it has no handler, as test_deleting_a_pod_ends_its_whole_process_tree shows).
    script = """
        import signal, sys, time
        def stop(signum, frame):
            print("got", signal.Signals(signum).name, flush=True)
            sys.exit(0)
        signal.signal(signal.SIGTERM, stop)
        print("ready", flush=True)
        time.sleep(600)
    """
    create(kube, namespace, pod("graceful", script, terminationGracePeriodSeconds=60))
    wait_for(lambda: "ready" in cluster.pod_log(namespace, "graceful"), 30, what="the command to start")
    log_path = next((cluster.node_state_dir / "pods").glob(f"{namespace}_graceful_*")) / "main.log"
    kube.delete(KubeREST.path_for("Pod", namespace, "graceful"))
    # Well inside the 60 s grace period: the handler ran, so SIGTERM arrived.
    wait_for(lambda: "got SIGTERM" in log_path.read_text(), 15, what="SIGTERM in the command")
    wait_for(lambda: kube.get_or_none(KubeREST.path_for("Pod", namespace, "graceful")) is None, 15,
             what="pod object removed")


@dataclass
class SpareNode:
    """A second process node on the shared cluster, tainted so that only pods bound to it by name run there."""

    name: str
    proc: subprocess.Popen[bytes]


@pytest.fixture
def spare_node(cluster: LocalCluster, kube: KubeREST, tmp_path: Path, namespace: str) -> Iterator[SpareNode]:
    name = f"spare-{uuid.uuid4().hex[:6]}"
    with (tmp_path / "node.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kubetune_devcluster.processnode", "--kubeconfig", str(cluster.kubeconfig),
             "--state-dir", str(tmp_path / "node"), "--name", name, "--gpus", "0",
             "--taint", "kubetune.dev/spare=true:NoSchedule"],
            stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
    try:
        wait_for(lambda: any(c["type"] == "Ready" and c["status"] == "True" for c in (kube.get_or_none(
            KubeREST.path_for("Node", name=name)) or {}).get("status", {}).get("conditions", [])), 30,
            what=f"node {name} Ready")
        yield SpareNode(name, proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        # Nothing runs them any more: remove the pods as a kubelet would have, and the node.
        for item in kube.get(KubeREST.path_for("Pod", namespace), fieldSelector=f"spec.nodeName={name}")["items"]:
            kube.delete(KubeREST.path_for("Pod", namespace, item["metadata"]["name"]), {"gracePeriodSeconds": 0})
        kube.delete(KubeREST.path_for("Node", name=name))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_stopping_the_node_ends_every_pods_process_tree(kube: KubeREST, namespace: str, spare_node: SpareNode,
                                                       sig: signal.Signals) -> None:
    # SIGTERM: the node stops its pods (LocalCluster.stop, or kill of the demo's --keep mode); SIGKILL: the node dies
    # without a word, and the kernel ends the pods through their parent-death signals.
    markers = [f"tree-{uuid.uuid4().hex}" for _ in range(2)]
    for i, marker in enumerate(markers):
        create(kube, namespace, tree_pod(f"tree-{i}", marker, nodeName=spare_node.name))
    for marker in markers:
        running_tree(marker)
    os.kill(spare_node.proc.pid, sig)
    assert spare_node.proc.wait(30) == (0 if sig == signal.SIGTERM else -signal.SIGKILL)
    for marker in markers:
        wait_for(lambda m=marker: not processes_with(m), 30, what=f"every process of {marker} to end")
