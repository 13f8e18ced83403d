"""Start a real Kubernetes control plane on loopback: etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
plus a process node that runs the pods. Binaries come from ``hack/build-kube.sh``'s version-keyed cache.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .kubeapi import ApiError, KubeREST
from .lifetime import die_with_parent
from .pki import PKI, CertPair
from .postgres import free_port

log = logging.getLogger(__name__)

KUBE_VERSION = "v1.37.2"
SERVICE_CIDR = "10.96.0.0/16"


class ControlPlaneError(RuntimeError):
    """A component is missing or did not become ready; the message names it and points at its log."""


def kube_bin_dir() -> Path:
    """Where the cached binaries live (``KUBETUNE_KUBE_BIN`` overrides)."""
    override = os.environ.get("KUBETUNE_KUBE_BIN")
    if override:
        return Path(override)
    cache = Path(os.environ.get("KUBETUNE_CACHE", Path.home() / ".cache" / "kubetune"))
    return cache / f"kube-{KUBE_VERSION}"


@dataclass
class Component:
    name: str
    argv: list[str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self, env: dict[str, str] | None = None) -> None:
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         preexec_fn=die_with_parent, env=env)

    def check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-3000:]
            raise ControlPlaneError(f"{self.name} exited with {self.proc.returncode}; log {self.log_path}:\n{tail}")

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        except ProcessLookupError:
            pass


@dataclass
class LocalCluster:
    """A running cluster. ``kubeconfig`` grants cluster-admin; ``api`` is a client for it."""

    root: Path
    bin_dir: Path = field(default_factory=kube_bin_dir)
    gpus: int = 2
    node_name: str = "process-node"
    components: list[Component] = field(default_factory=list)
    kubeconfig: Path = field(init=False)
    api_port: int = field(init=False, default=0)
    _kubelet_serving: CertPair = field(init=False, repr=False)
    _owned_root: bool = False

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.api_port}"

    @property
    def api(self) -> KubeREST:
        return KubeREST.from_kubeconfig(self.kubeconfig)

    @property
    def node_state_dir(self) -> Path:
        return self.root / "node"

    # -- start -------------------------------------------------------------------------------------------------
    def start(self, with_node: bool = True) -> LocalCluster:
        missing = [b for b in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
                   if not (self.bin_dir / b).exists()]
        if missing:
            raise ControlPlaneError(f"missing {', '.join(missing)} in {self.bin_dir}: run hack/build-kube.sh first")
        started = time.monotonic()
        self.root.mkdir(parents=True, exist_ok=True)
        logs = self.root / "logs"
        logs.mkdir(exist_ok=True)
        pki = PKI(self.root / "pki")
        self.api_port = free_port()
        etcd_port, peer_port = free_port(), free_port()
        serving = pki.issue("apiserver", "kube-apiserver", dns_names=(
            "localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local"), ip_addresses=("127.0.0.1", "10.96.0.1"), server=True)
        admin = pki.issue("admin", "kubetune-admin", organizations=("system:masters",))
        kcm = pki.issue("kcm", "system:kube-controller-manager")
        sched = pki.issue("scheduler", "system:kube-scheduler")
        # The API server reaches the process node's kubelet API (pods/log) with this client certificate.
        kubelet_client = pki.issue("apiserver-kubelet-client", "kube-apiserver-kubelet-client",
                                   organizations=("kubeadm:cluster-admins",))
        self._kubelet_serving = pki.issue("kubelet", self.node_name, ip_addresses=("127.0.0.1",), server=True)
        sa = pki.service_account_keys()
        self.kubeconfig = pki.kubeconfig(self.root / "admin.kubeconfig", self.server, "admin", admin)
        kcm_config = pki.kubeconfig(self.root / "kcm.kubeconfig", self.server, "kcm", kcm)
        sched_config = pki.kubeconfig(self.root / "scheduler.kubeconfig", self.server, "scheduler", sched)
        b = self.bin_dir

        etcd = Component("etcd", [
            str(b / "etcd"), "--data-dir", str(self.root / "etcd"), "--name", "default",
            "--listen-client-urls", f"http://127.0.0.1:{etcd_port}",
            "--advertise-client-urls", f"http://127.0.0.1:{etcd_port}",
            "--listen-peer-urls", f"http://127.0.0.1:{peer_port}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer_port}",
            "--initial-cluster", f"default=http://127.0.0.1:{peer_port}",
            "--unsafe-no-fsync", "--log-level", "warn", "--quota-backend-bytes", str(4 * 2**30),
        ], logs / "etcd.log")
        apiserver = Component("kube-apiserver", [
            str(b / "kube-apiserver"),
            "--etcd-servers", f"http://127.0.0.1:{etcd_port}",
            "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
            "--secure-port", str(self.api_port),
            "--tls-cert-file", str(serving.cert), "--tls-private-key-file", str(serving.key),
            "--client-ca-file", str(pki.ca.cert),
            "--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
            "--service-account-key-file", str(sa.cert), "--service-account-signing-key-file", str(sa.key),
            "--service-cluster-ip-range", SERVICE_CIDR,
            "--authorization-mode", "RBAC", "--allow-privileged=true",
            "--kubelet-client-certificate", str(kubelet_client.cert), "--kubelet-client-key", str(kubelet_client.key),
            "--kubelet-certificate-authority", str(pki.ca.cert), "--kubelet-preferred-address-types", "InternalIP",
            # Loopback addresses are not valid endpoints, so the apiserver must not reconcile its own Service.
            "--endpoint-reconciler-type", "none",
            "--profiling=false", "--v", "1",
        ], logs / "kube-apiserver.log")
        controller_manager = Component("kube-controller-manager", [
            str(b / "kube-controller-manager"),
            "--kubeconfig", str(kcm_config),
            "--authentication-kubeconfig", str(kcm_config), "--authorization-kubeconfig", str(kcm_config),
            "--service-account-private-key-file", str(sa.key), "--root-ca-file", str(pki.ca.cert),
            "--use-service-account-credentials=true",
            "--cluster-signing-cert-file", str(pki.ca.cert), "--cluster-signing-key-file", str(pki.ca.key),
            "--controllers", "*,-node-ipam-controller",
            "--leader-elect=false", "--bind-address", "127.0.0.1", "--secure-port", str(free_port()),
            "--concurrent-job-syncs", "20", "--concurrent-deployment-syncs", "10",
            "--concurrent-gc-syncs", "20", "--kube-api-qps", "200", "--kube-api-burst", "400", "--v", "1",
        ], logs / "kube-controller-manager.log")
        scheduler = Component("kube-scheduler", [
            str(b / "kube-scheduler"), "--kubeconfig", str(sched_config),
            "--authentication-kubeconfig", str(sched_config), "--authorization-kubeconfig", str(sched_config),
            "--leader-elect=false", "--bind-address", "127.0.0.1", "--secure-port", str(free_port()), "--v", "1",
        ], logs / "kube-scheduler.log")

        try:
            etcd.start()
            self.components.append(etcd)
            self._wait_http(f"http://127.0.0.1:{etcd_port}/health", etcd, timeout=30)
            apiserver.start()
            self.components.append(apiserver)
            self._wait_apiserver(apiserver)
            for component in (controller_manager, scheduler):
                component.start()
                self.components.append(component)
            if with_node:
                self.start_node()
            self._wait_system_ready()
        except BaseException:
            self.stop()
            raise
        log.info("local cluster ready at %s in %.1fs", self.server, time.monotonic() - started)
        return self

    def start_node(self) -> None:
        node = Component("process-node", [
            sys.executable, "-m", "kubetune_devcluster.processnode", "--kubeconfig", str(self.kubeconfig),
            "--state-dir", str(self.node_state_dir), "--name", self.node_name, "--gpus", str(self.gpus),
            "--kubelet-cert", str(self._kubelet_serving.cert), "--kubelet-key", str(self._kubelet_serving.key),
            "--kubelet-client-ca", str(self.root / "pki" / "ca.crt"),
        ], self.root / "logs" / "process-node.log")
        node.start(env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.components.append(node)

    def _wait_http(self, url: str, component: Component, timeout: float,
                   context: ssl.SSLContext | None = None) -> None:
        deadline = time.monotonic() + timeout
        while True:
            component.check_alive()
            try:
                with urllib.request.urlopen(url, timeout=2, context=context) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise ControlPlaneError(f"{component.name} not ready after {timeout}s; log {component.log_path}")
            time.sleep(0.2)

    def _wait_apiserver(self, component: Component) -> None:
        ctx = ssl.create_default_context(cafile=str(self.root / "pki" / "ca.crt"))
        ctx.load_cert_chain(str(self.root / "pki" / "admin.crt"), str(self.root / "pki" / "admin.key"))
        self._wait_http(f"{self.server}/readyz", component, timeout=60, context=ctx)

    def _wait_system_ready(self, timeout: float = 60) -> None:
        """Wait for the default service account (the controller manager works) and, with a node, a Ready node."""
        api = self.api
        deadline = time.monotonic() + timeout
        while True:
            for component in self.components:
                component.check_alive()
            sa_ok = api.get_or_none(KubeREST.path_for("ServiceAccount", "default", "default")) is not None
            node_ok = True
            if any(c.name == "process-node" for c in self.components):
                node = api.get_or_none(KubeREST.path_for("Node", name=self.node_name)) or {}
                node_ok = bool(node) and any(
                    c["type"] == "Ready" and c["status"] == "True" for c in node.get("status", {}).get("conditions", [])
                ) and not any(t["key"].startswith("node.kubernetes.io/not-ready")
                              for t in node.get("spec", {}).get("taints") or [])
            if sa_ok and node_ok:
                return
            if time.monotonic() > deadline:
                raise ControlPlaneError(f"cluster not ready after {timeout}s (default SA: {sa_ok}, node: {node_ok})")
            time.sleep(0.2)

    # -- helpers for tests and demos -----------------------------------------------------------------------------
    def volume_path(self, namespace: str, claim: str, timeout: float = 30) -> Path:
        """The host directory behind a bound PersistentVolumeClaim."""
        api = self.api
        deadline = time.monotonic() + timeout
        while True:
            pvc = api.get(KubeREST.path_for("PersistentVolumeClaim", namespace, claim))
            if pvc.get("status", {}).get("phase") == "Bound":
                pv = api.get(KubeREST.path_for("PersistentVolume", name=pvc["spec"]["volumeName"]))
                return Path(pv["spec"]["hostPath"]["path"])
            if time.monotonic() > deadline:
                raise ControlPlaneError(f"claim {namespace}/{claim} not bound after {timeout}s")
            time.sleep(0.1)

    def pod_log(self, namespace: str, pod: str, container: str | None = None) -> str:
        """The log of a pod's container (the process node writes one file per container)."""
        api = self.api
        obj = api.get(KubeREST.path_for("Pod", namespace, pod))
        name = container or obj["spec"]["containers"][0]["name"]
        path = self.node_state_dir / "pods" / f"{namespace}_{pod}_{obj['metadata']['uid']}" / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def kubectl(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.bin_dir / "kubectl"), "--kubeconfig", str(self.kubeconfig), *args],
                              input=input, capture_output=True, text=True, check=check)

    def create_namespace(self, name: str, timeout: float = 30) -> str:
        return ensure_namespace(self.api, name, timeout)

    def service_account_kubeconfig(self, namespace: str, name: str, path: Path) -> Path:
        """A kubeconfig that authenticates as a ServiceAccount (a bound token), to run a client with only its RBAC."""
        token = self.api.create(KubeREST.path("v1", "serviceaccounts", namespace, name, "token"), {
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
            "spec": {"expirationSeconds": 86400}})["status"]["token"]
        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": "sa",
            "clusters": [{"name": "local", "cluster": {"server": self.server,
                                                       "certificate-authority": str(self.root / "pki" / "ca.crt")}}],
            "users": [{"name": name, "user": {"token": token}}],
            "contexts": [{"name": "sa", "context": {"cluster": "local", "user": name, "namespace": namespace}}],
        }
        path.write_text(yaml.safe_dump(config))
        path.chmod(0o600)
        return path

    # -- stop --------------------------------------------------------------------------------------------------
    def stop(self) -> None:
        for component in reversed(self.components):
            component.stop()
        self.components.clear()
        if self._owned_root:
            shutil.rmtree(self.root, ignore_errors=True)


def ensure_namespace(api: KubeREST, name: str, timeout: float = 30) -> str:
    """Create a namespace (if needed) and wait for its default service account, without which pods are refused."""
    try:
        api.create(KubeREST.path_for("Namespace"), {"apiVersion": "v1", "kind": "Namespace",
                                                     "metadata": {"name": name}})
    except ApiError as e:
        if e.status != 409:
            raise
    deadline = time.monotonic() + timeout
    while api.get_or_none(KubeREST.path_for("ServiceAccount", name, "default")) is None:
        if time.monotonic() > deadline:
            raise ControlPlaneError(f"namespace {name}: default service account not created")
        time.sleep(0.1)
    return name


def start_cluster(root: Path | None = None, gpus: int = 2, with_node: bool = True) -> LocalCluster:
    owned = root is None
    root = root or Path(tempfile.mkdtemp(prefix="kubetune-cluster-"))
    cluster = LocalCluster(root=root, gpus=gpus, _owned_root=owned)
    return cluster.start(with_node=with_node)
