"""The test ground itself: the real control plane schedules, the process node runs pods as a kubelet would."""

from __future__ import annotations

import json
import os
import textwrap
import urllib.request
from typing import Any

import pytest

from kubetune_devcluster.controlplane import LocalCluster
from kubetune_devcluster.kubeapi import ApiError, Connection, KubeREST
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
