"""Pod names that resolve: each pod's own /etc/hosts, and the records cluster DNS would serve for headless Services.

The kubelet gives every pod (not on the host network) a hostname (``spec.hostname``, else the pod's name) in its own
UTS namespace and an ``/etc/hosts`` it manages, with the pod's own address under that hostname and, when the pod has a
``spec.subdomain``, under ``<hostname>.<subdomain>.<namespace>.svc.<cluster domain>``. Its peers' names come from
cluster DNS (CoreDNS), which serves, for a headless Service, one record per pod it selects that has a hostname and
the Service's name as subdomain (only Ready pods, unless ``publishNotReadyAddresses``).

There is no cluster DNS here, and the pods share the host's resolver. So the node writes each pod's hosts file
itself (``hosts_file`` for the kubelet's part) and appends the headless Service records of the pod's subdomain
(``service_records``), updated in place while the pod runs (``HostsFiles``): a bind mount pins the file's inode, and
the C library reads /etc/hosts on every lookup, so a peer that gets its address later becomes resolvable, as a DNS
record would. That is what lets torchrun's rendezvous (``<job>-0.<service>``) and gloo (which binds to the address
its own hostname resolves to) work across pods on the test node, each pod on its own 127.x.y.z address.

Only pods of this node are known (the local cluster has one node).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ..kubeapi import ApiError, Json, KubeREST

log = logging.getLogger(__name__)

CLUSTER_DOMAIN = "cluster.local"
REFRESH_SECONDS = 0.25
SERVICE_TTL = 2.0  # how long a Service read is reused (Services rarely change; a refresh runs four times a second)

# What the kubelet writes before the pod's own entry (pkg/kubelet/kubelet_pods.go, managedHostsFileContent).
KUBELET_HEADER = """# Kubernetes-managed hosts file.
127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
fe00::0\tip6-localnet
fe00::0\tip6-mcastprefix
fe00::1\tip6-allnodes
fe00::2\tip6-allrouters
"""


def pod_hostname(pod: Json) -> str:
    """The pod's hostname: ``spec.hostname``, else its name (cut to a DNS label, as the kubelet does)."""
    return str(pod["spec"].get("hostname") or pod["metadata"]["name"][:63]).rstrip("-.")


def hosts_file(pod: Json, ip: str) -> str:
    """The kubelet's part of a pod's /etc/hosts: localhost, the pod's own names, its hostAliases."""
    hostname = pod_hostname(pod)
    subdomain = pod["spec"].get("subdomain")
    lines = [KUBELET_HEADER]
    if subdomain:
        fqdn = f"{hostname}.{subdomain}.{pod['metadata']['namespace']}.svc.{CLUSTER_DOMAIN}"
        lines.append(f"{ip}\t{fqdn}\t{hostname}\n")
    else:
        lines.append(f"{ip}\t{hostname}\n")
    aliases = pod["spec"].get("hostAliases") or []
    if aliases:
        lines.append("\n# Entries added by HostAliases.\n")
        lines += [f"{a['ip']}\t{chr(9).join(a.get('hostnames') or [])}\n" for a in aliases]
    return "".join(lines)


@dataclass(frozen=True)
class Member:
    """A pod of this node, as cluster DNS sees it."""

    pod: Json
    ip: str
    ready: bool
    terminal: bool


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def service_records(service: Json, members: Iterable[Member]) -> list[str]:
    """The records of a headless Service's pods: ``<ip> <hostname>.<service>.<ns>.svc.<domain> <hostname>.<service>``
    for every pod it selects that has a hostname and the Service as subdomain (EndpointSlice rules), in a stable
    order."""
    spec = service.get("spec") or {}
    if spec.get("clusterIP") != "None":
        return []
    name, namespace = service["metadata"]["name"], service["metadata"]["namespace"]
    lines = []
    for member in members:
        pod = member.pod
        if (pod["metadata"]["namespace"] != namespace or pod["spec"].get("subdomain") != name
                or not pod["spec"].get("hostname") or member.terminal or not member.ip
                or not (member.ready or spec.get("publishNotReadyAddresses"))
                or not _selects(spec.get("selector") or {}, pod["metadata"].get("labels") or {})):
            continue
        short = f"{pod['spec']['hostname']}.{name}"
        lines.append(f"{member.ip}\t{short}.{namespace}.svc.{CLUSTER_DOMAIN}\t{short}\n")
    return sorted(lines)


def write_in_place(path: Path, content: str) -> None:
    """Rewrite the file without replacing it: the pod's bind mount holds on to this inode."""
    data = content.encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
        os.ftruncate(fd, len(data))
    finally:
        os.close(fd)


class HostsFiles:
    """Keeps the hosts file of every pod with a subdomain up to date with its headless Service's records.

    ``members`` lists this node's pods that have an address, each with the path of its hosts file."""

    def __init__(self, api: KubeREST, members: Callable[[], list[tuple[Path, Member]]]) -> None:
        self.api = api
        self.members = members
        self._lock = threading.Lock()
        self._written: dict[Path, str] = {}
        self._services: dict[tuple[str, str], tuple[float, Json | None]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="hosts-files", daemon=True)

    def content(self, member: Member, everyone: list[Member]) -> str:
        """The whole file of one pod: the kubelet's part, then its subdomain's records."""
        base = hosts_file(member.pod, member.ip)
        subdomain = member.pod["spec"].get("subdomain")
        service = self._service(member.pod["metadata"]["namespace"], subdomain) if subdomain else None
        records = service_records(service, everyone) if service else []
        if not records:
            return base
        return base + f"\n# Cluster DNS of headless Service {subdomain} (written by the process node).\n" + \
            "".join(records)

    def write(self, path: Path, member: Member) -> None:
        """Write a pod's file now (before its containers start), with the records known so far."""
        self._write(path, self.content(member, [m for _, m in self.members()]))

    def refresh(self) -> None:
        snapshot = self.members()
        everyone = [m for _, m in snapshot]
        for path, member in snapshot:
            if member.pod["spec"].get("subdomain"):
                self._write(path, self.content(member, everyone))
        live = {path for path, _ in snapshot}
        with self._lock:
            self._written = {p: t for p, t in self._written.items() if p in live}

    def _write(self, path: Path, text: str) -> None:
        with self._lock:
            if self._written.get(path) == text or not path.parent.exists():
                return
            write_in_place(path, text)
            self._written[path] = text

    def _service(self, namespace: str, name: str) -> Json | None:
        now = time.monotonic()
        cached = self._services.get((namespace, name))
        if cached and now - cached[0] < SERVICE_TTL:
            return cached[1]
        try:
            service = self.api.get_or_none(KubeREST.path_for("Service", namespace, name))
        except ApiError as e:
            log.debug("service %s/%s not read: %s", namespace, name, e)
            service = cached[1] if cached else None
        self._services[(namespace, name)] = (now, service)
        return service

    def _loop(self) -> None:
        while not self._stop.wait(REFRESH_SECONDS):
            try:
                self.refresh()
            except Exception:  # a failed refresh is retried on the next tick
                log.exception("hosts files not refreshed")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
