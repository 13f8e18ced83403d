"""The process node: registers a Node, keeps its Lease alive, and runs every pod bound to it as local processes.

It stands in for the kubelet, which cannot run on the test machines. Images are ignored; each container's command runs
in the node's own environment, in a private mount namespace, bound to the pod's own loopback IP.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from kubetune.kube.errors import error_for

from ..kubeapi import ApiError, Json, KubeREST
from .containers import now_rfc3339
from .hosts import HostsFiles, Member
from .kubelet_api import ContainerLog
from .pods import PodRunner

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 10


@dataclass(frozen=True)
class NodeCapacity:
    cpu: str = "16"
    memory: str = "64Gi"
    pods: str = "250"
    gpus: int = 2
    gpu_resource: str = "nvidia.com/gpu"

    def as_resources(self) -> dict[str, str]:
        resources = {"cpu": self.cpu, "memory": self.memory, "pods": self.pods, "ephemeral-storage": "100Gi"}
        if self.gpus:
            resources[self.gpu_resource] = str(self.gpus)
        return resources


def _listening_ips() -> set[str]:
    """Loopback addresses something on this machine listens on (another node's pods, a stray server)."""
    found = set()
    try:
        with open("/proc/net/tcp") as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[3] == "0A":  # LISTEN
                    raw = fields[1].split(":")[0]
                    found.add(".".join(str(int(raw[i:i + 2], 16)) for i in (6, 4, 2, 0)))
    except OSError:
        pass
    return found


class IPAllocator:
    """Hands out 127.N.x.y addresses round-robin, so a freed address is not reused soon after.

    N is random per node, and addresses something already listens on are skipped, so several clusters on one
    machine (parallel test runs) do not hand out the same pod IP.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next = 0
        self._used: set[str] = set()
        self._octet = random.randint(2, 254)

    def allocate(self) -> str:
        with self._lock:
            busy = _listening_ips()
            for _ in range(254 * 254):
                n = self._next
                self._next = (self._next + 1) % (254 * 254)
                ip = f"127.{self._octet}.{n // 254 + 1}.{n % 254 + 1}"
                if ip not in self._used and ip not in busy:
                    self._used.add(ip)
                    return ip
        raise RuntimeError("no free pod IPs")

    def release(self, ip: str) -> None:
        with self._lock:
            self._used.discard(ip)


class ProcessNode:
    def __init__(self, api: KubeREST, name: str, state_dir: Path, capacity: NodeCapacity | None = None,
                 labels: dict[str, str] | None = None, taints: list[Json] | None = None) -> None:
        self.api = api
        self.name = name
        self.state_dir = state_dir
        # What pods get as the cluster's CA (kube-root-ca.crt): the one this node trusts the API server with.
        self.ca_pem = api.connection.ca_pem() or b""
        self.capacity = capacity or NodeCapacity()
        self.labels = labels or {}
        self.taints = taints or []
        server = urlparse(api.connection.server)
        self.api_host = server.hostname or "127.0.0.1"
        self.api_port = str(server.port or 443)
        # The node's environment stands in for every image's environment.
        self.base_env = {k: v for k, v in os.environ.items() if not k.startswith("KUBETUNE_NODE_")}
        # `python` in a container command means the test environment's interpreter (the virtualenv).
        bin_dir = os.path.dirname(sys.executable)
        self.base_env["PATH"] = bin_dir + os.pathsep + self.base_env.get("PATH", "/usr/bin:/bin")
        self.ips = IPAllocator()
        self._runners: dict[str, PodRunner] = {}
        self._finished: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._started_at = now_rfc3339()
        self.kubelet_port = 0  # set when the kubelet API (container logs) is served; 0 means none
        # Stands in for cluster DNS: the headless Service records in the pods' /etc/hosts.
        self.hosts = HostsFiles(api, self._hosts_members)

    # -- paths -------------------------------------------------------------------------------------------------
    def pod_dir(self, pod: Json) -> Path:
        meta = pod["metadata"]
        return self.state_dir / "pods" / f"{meta['namespace']}_{meta['name']}_{meta['uid']}"

    # -- registration and heartbeat ----------------------------------------------------------------------------
    def register(self) -> None:
        labels = {"kubernetes.io/hostname": self.name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                  "node.kubetune.dev/process-node": "true", **self.labels}
        body = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": self.name, "labels": labels},
                "spec": {"taints": self.taints} if self.taints else {}}
        try:
            self.api.create(KubeREST.path_for("Node"), body)
        except ApiError as e:
            if e.status != 409:
                raise
        self._post_status()

    def _post_status(self) -> None:
        now = now_rfc3339()
        resources = self.capacity.as_resources()

        def condition(kind: str, status: str, reason: str, message: str) -> Json:
            return {"type": kind, "status": status, "reason": reason, "message": message,
                    "lastHeartbeatTime": now, "lastTransitionTime": self._started_at}

        status = {
            "capacity": resources, "allocatable": resources,
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": self.name}],
            "conditions": [
                condition("Ready", "True", "KubeletReady", "process node is posting ready status"),
                condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "ok"),
                condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "ok"),
                condition("PIDPressure", "False", "KubeletHasSufficientPID", "ok"),
            ],
            "nodeInfo": {"machineID": "", "systemUUID": "", "bootID": "", "kernelVersion": os.uname().release,
                         "osImage": "kubetune process node", "containerRuntimeVersion": "process://0.1",
                         "kubeletVersion": "v1.37.2", "kubeProxyVersion": "", "operatingSystem": "linux",
                         "architecture": "amd64"},
            # Where the API server proxies pods/log to (see kubelet_api.py).
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.kubelet_port}},
        }
        self.api.patch(KubeREST.path_for("Node", name=self.name, subresource="status"), {"status": status})

    def _renew_lease(self) -> None:
        path = KubeREST.path_for("Lease", "kube-node-lease", self.name)
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
        body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": self.name, "namespace": "kube-node-lease"},
                "spec": {"holderIdentity": self.name, "leaseDurationSeconds": 40, "renewTime": now}}
        try:
            self.api.patch(path, {"spec": body["spec"]})
        except ApiError as e:
            if e.status != 404:
                raise
            self.api.create(KubeREST.path_for("Lease", "kube-node-lease"), body)

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                self._renew_lease()
                self._post_status()
            except Exception as e:
                log.warning("heartbeat failed: %s", e)

    # -- logs --------------------------------------------------------------------------------------------------
    def find_log(self, namespace: str, pod: str, container: str) -> ContainerLog | None:
        """The log of a container of a pod on this node: a running pod's, else the newest finished one's."""
        with self._lock:
            runner = next((r for r in self._runners.values() if r.ns == namespace and r.pod_name == pod), None)
        if runner is not None:
            run = next((c for c in runner.inits + runner.containers if c.name == container), None)
            if run is None:
                return None
            waiting = run.state.get("waiting") if run.proc is None else None
            return ContainerLog(runner.dir / f"{container}.log", lambda: run.proc is not None and
                                run.proc.poll() is None and not runner.vanished.is_set(),
                                (waiting or {}).get("reason") if waiting else None)
        dirs = sorted(self.state_dir.glob(f"pods/{namespace}_{pod}_*"), key=lambda d: d.stat().st_mtime)
        if not dirs or not (dirs[-1] / f"{container}.log").exists():
            return None
        return ContainerLog(dirs[-1] / f"{container}.log", lambda: False)

    # -- pods --------------------------------------------------------------------------------------------------
    def _hosts_members(self) -> list[tuple[Path, Member]]:
        with self._lock:
            runners = list(self._runners.values())
        return [(r.hosts_path, r.member()) for r in runners if r.ip]

    def allocate_ip(self) -> str:
        return self.ips.allocate()

    def release(self, runner: PodRunner) -> None:
        if runner.ip:
            self.ips.release(runner.ip)
        with self._lock:
            if self._runners.get(runner.uid) is runner:
                del self._runners[runner.uid]
            self._finished.add(runner.uid)
        if runner.vanished.is_set():
            runner.cleanup()

    def dispatch(self, kind: str, pod: Json) -> None:
        uid = pod["metadata"]["uid"]
        with self._lock:
            runner = self._runners.get(uid)
            if kind == "DELETED":
                self._finished.discard(uid)
                if runner:
                    runner.vanish()
                return
            if runner:
                runner.update(pod)
                return
            finished = uid in self._finished or pod.get("status", {}).get("phase") in ("Succeeded", "Failed")
            if finished or pod["metadata"].get("deletionTimestamp"):
                if pod["metadata"].get("deletionTimestamp"):
                    self._delete_finished(pod)
                return
            runner = PodRunner(self, pod)
            self._runners[uid] = runner
        runner.start()

    def event(self, pod: Json, kind: str, reason: str, message: str) -> None:
        """Record a core/v1 Event on the pod, as the kubelet does (best effort)."""
        meta = pod["metadata"]
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        body = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
            "involvedObject": {"kind": "Pod", "apiVersion": "v1", "namespace": meta["namespace"], "name": meta["name"],
                               "uid": meta["uid"]},
            "type": kind, "reason": reason, "message": message[:1024],
            "source": {"component": "kubelet", "host": self.name},
            "firstTimestamp": now, "lastTimestamp": now, "count": 1,
            "reportingComponent": "kubelet", "reportingInstance": self.name,
        }
        try:
            self.api.create(KubeREST.path_for("Event", meta["namespace"]), body)
        except ApiError as e:
            log.debug("event not recorded: %s", e)

    def _delete_finished(self, pod: Json) -> None:
        meta = pod["metadata"]
        try:
            self.api.delete(KubeREST.path_for("Pod", meta["namespace"], meta["name"]),
                            {"gracePeriodSeconds": 0, "preconditions": {"uid": meta["uid"]}})
        except ApiError as e:
            if e.status not in (404, 409):
                log.warning("cannot remove pod %s/%s: %s", meta["namespace"], meta["name"], e)

    def _watch_pods(self) -> None:
        path = KubeREST.path_for("Pod")
        selector = f"spec.nodeName={self.name}"
        while not self._stop.is_set():
            try:
                listing = self.api.get(path, fieldSelector=selector)
                for pod in listing["items"]:
                    self.dispatch("ADDED", pod)
                version = listing["metadata"]["resourceVersion"]
                while not self._stop.is_set():
                    for event in self.api.watch(path, version, timeout_seconds=120, fieldSelector=selector):
                        obj = event["object"]
                        if event["type"] == "ERROR":
                            raise error_for(int(obj.get("code", 500)), obj, "WATCH", path)
                        version = obj["metadata"]["resourceVersion"]
                        if event["type"] != "BOOKMARK":
                            self.dispatch(event["type"], obj)
            except ApiError as e:
                if e.status != 410:
                    log.warning("pod watch failed: %s", e)
                    time.sleep(1)
            except Exception as e:
                if not self._stop.is_set():
                    log.warning("pod watch interrupted: %s", e)
                    time.sleep(1)

    # -- lifecycle ---------------------------------------------------------------------------------------------
    def run(self) -> None:
        self.register()
        self._renew_lease()
        threading.Thread(target=self._heartbeat, name="heartbeat", daemon=True).start()
        self.hosts.start()
        log.info("process node %s registered with %s", self.name, self.capacity.as_resources())
        self._watch_pods()

    def stop(self, timeout: float = 10.0) -> None:
        """End every pod's processes (each container's whole PID namespace) and wait for them to be gone."""
        self._stop.set()
        self.hosts.stop()
        with self._lock:
            runners = list(self._runners.values())
        for runner in runners:
            runner.vanished.set()
            runner.deleting.set()
            runner.kill_all(signal.SIGKILL)
        deadline = time.monotonic() + timeout
        for runner in runners:
            runner.wait_processes(deadline)
