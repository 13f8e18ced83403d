"""A small synchronous Kubernetes REST client that speaks plain dicts, for the process node, tests and benchmarks.

It reads a kubeconfig with client-certificate or token credentials. Watches are streamed line by line.
"""

from __future__ import annotations

import base64
import json
import ssl
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import urllib3
import yaml

Json = dict[str, Any]

# Resource paths by kind, for the kinds the test ground touches; custom resources go through ``path()``.
_CORE = {
    "Pod": "pods", "Service": "services", "ConfigMap": "configmaps", "Secret": "secrets", "Namespace": "namespaces",
    "ServiceAccount": "serviceaccounts", "PersistentVolumeClaim": "persistentvolumeclaims", "Node": "nodes",
    "PersistentVolume": "persistentvolumes", "Event": "events", "Endpoints": "endpoints",
}
_GROUPED = {
    "Deployment": ("apps/v1", "deployments"), "ReplicaSet": ("apps/v1", "replicasets"),
    "StatefulSet": ("apps/v1", "statefulsets"), "Job": ("batch/v1", "jobs"),
    "Role": ("rbac.authorization.k8s.io/v1", "roles"), "RoleBinding": ("rbac.authorization.k8s.io/v1", "rolebindings"),
    "ClusterRole": ("rbac.authorization.k8s.io/v1", "clusterroles"),
    "ClusterRoleBinding": ("rbac.authorization.k8s.io/v1", "clusterrolebindings"),
    "StorageClass": ("storage.k8s.io/v1", "storageclasses"), "Lease": ("coordination.k8s.io/v1", "leases"),
    "CustomResourceDefinition": ("apiextensions.k8s.io/v1", "customresourcedefinitions"),
    "NetworkPolicy": ("networking.k8s.io/v1", "networkpolicies"),
    "Ingress": ("networking.k8s.io/v1", "ingresses"), "PodDisruptionBudget": ("policy/v1", "poddisruptionbudgets"),
}
_CLUSTER_SCOPED = {"Namespace", "Node", "PersistentVolume", "ClusterRole", "ClusterRoleBinding", "StorageClass",
                   "CustomResourceDefinition"}


class ApiError(Exception):
    """The API server answered with an error status."""

    def __init__(self, status: int, body: Json | str) -> None:
        self.status = status
        self.body = body
        message = body.get("message", "") if isinstance(body, dict) else str(body)
        super().__init__(f"{status}: {message}")

    @property
    def message(self) -> str:
        return self.body.get("message", "") if isinstance(self.body, dict) else str(self.body)


@dataclass(frozen=True)
class Credentials:
    server: str
    ca_file: str | None
    cert_file: str | None
    key_file: str | None
    token: str | None

    @classmethod
    def from_kubeconfig(cls, path: str | Path, context: str | None = None) -> Credentials:
        config = yaml.safe_load(Path(path).read_text())
        ctx_name = context or config["current-context"]
        ctx = next(c["context"] for c in config["contexts"] if c["name"] == ctx_name)
        cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == ctx["cluster"])
        user = next(u["user"] for u in config["users"] if u["name"] == ctx["user"])

        def materialise(data_key: str, file_key: str, section: Json) -> str | None:
            if section.get(file_key):
                return str(section[file_key])
            if section.get(data_key):
                f = tempfile.NamedTemporaryFile(delete=False, suffix=".pem")  # noqa: SIM115
                f.write(base64.b64decode(section[data_key]))
                f.close()
                return f.name
            return None

        return cls(
            server=cluster["server"].rstrip("/"),
            ca_file=materialise("certificate-authority-data", "certificate-authority", cluster),
            cert_file=materialise("client-certificate-data", "client-certificate", user),
            key_file=materialise("client-key-data", "client-key", user),
            token=user.get("token"),
        )


class KubeREST:
    """Plain-dict access to the API server."""

    def __init__(self, credentials: Credentials, timeout: float = 30.0) -> None:
        self.creds = credentials
        ctx = ssl.create_default_context(cafile=credentials.ca_file)
        if credentials.cert_file:
            ctx.load_cert_chain(credentials.cert_file, credentials.key_file)
        self._pool = urllib3.PoolManager(ssl_context=ctx, maxsize=16, retries=False)
        self._timeout = timeout
        self._headers = {"Accept": "application/json"}
        if credentials.token:
            self._headers["Authorization"] = f"Bearer {credentials.token}"

    @classmethod
    def from_kubeconfig(cls, path: str | Path) -> KubeREST:
        return cls(Credentials.from_kubeconfig(path))

    # -- paths -------------------------------------------------------------------------------------------------
    @staticmethod
    def path(api_version: str, plural: str, namespace: str | None = None, name: str | None = None,
             subresource: str | None = None) -> str:
        base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        p = base + (f"/namespaces/{namespace}" if namespace else "") + f"/{plural}"
        if name:
            p += f"/{name}"
        if subresource:
            p += f"/{subresource}"
        return p

    @classmethod
    def path_for(cls, kind: str, namespace: str | None = None, name: str | None = None, api_version: str | None = None,
                 plural: str | None = None, subresource: str | None = None) -> str:
        if kind in _CORE:
            api_version, plural = "v1", _CORE[kind]
        elif kind in _GROUPED:
            api_version, plural = _GROUPED[kind]
        elif not (api_version and plural):
            raise ValueError(f"unknown kind {kind}: pass api_version and plural")
        assert api_version and plural
        ns = None if kind in _CLUSTER_SCOPED else namespace
        return cls.path(api_version, plural, ns, name, subresource)

    # -- verbs -------------------------------------------------------------------------------------------------
    def request(self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None,
                content_type: str = "application/json", timeout: float | None = None) -> Any:
        url = self.creds.server + path + (("?" + urlencode(query)) if query else "")
        headers = dict(self._headers)
        data = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = json.dumps(body).encode()
        resp = self._pool.request(method, url, body=data, headers=headers, timeout=timeout or self._timeout)
        payload: Any
        try:
            payload = json.loads(resp.data) if resp.data else {}
        except ValueError:
            payload = resp.data.decode(errors="replace")
        if resp.status >= 400:
            raise ApiError(resp.status, payload)
        return payload

    def get(self, path: str, **query: Any) -> Json:
        return self.request("GET", path, query=query or None)

    def get_or_none(self, path: str) -> Json | None:
        try:
            return self.get(path)
        except ApiError as e:
            if e.status == 404:
                return None
            raise

    def create(self, path: str, body: Json) -> Json:
        return self.request("POST", path, body)

    def replace(self, path: str, body: Json) -> Json:
        return self.request("PUT", path, body)

    def patch(self, path: str, body: Any, kind: str = "merge") -> Json:
        types = {"merge": "application/merge-patch+json", "json": "application/json-patch+json",
                 "strategic": "application/strategic-merge-patch+json"}
        return self.request("PATCH", path, body, content_type=types[kind])

    def delete(self, path: str, body: Json | None = None, missing_ok: bool = True) -> Json | None:
        try:
            return self.request("DELETE", path, body)
        except ApiError as e:
            if e.status == 404 and missing_ok:
                return None
            raise

    def apply(self, manifest: Json) -> Json:
        """Create the object, or replace it when it exists (keeping its resourceVersion)."""
        meta = manifest["metadata"]
        kind = manifest["kind"]
        plural = None
        if kind not in _CORE and kind not in _GROUPED:
            plural = kind.lower() + "s"
        collection = self.path_for(kind, meta.get("namespace"), api_version=manifest["apiVersion"], plural=plural)
        try:
            return self.create(collection, manifest)
        except ApiError as e:
            if e.status != 409:
                raise
        item = f"{collection}/{meta['name']}"
        current = self.get(item)
        body = dict(manifest)
        body["metadata"] = {**meta, "resourceVersion": current["metadata"]["resourceVersion"]}
        return self.replace(item, body)

    def watch(self, path: str, resource_version: str | None = None, timeout_seconds: int = 60,
              **query: Any) -> Iterator[Json]:
        """Yield watch events (``{"type": ..., "object": ...}``) until the server closes the stream."""
        q: dict[str, Any] = {"watch": "true", "timeoutSeconds": timeout_seconds, "allowWatchBookmarks": "true", **query}
        if resource_version:
            q["resourceVersion"] = resource_version
        url = self.creds.server + path + "?" + urlencode(q)
        resp = self._pool.request("GET", url, headers=self._headers, preload_content=False,
                                  timeout=urllib3.Timeout(connect=10, read=timeout_seconds + 10))
        try:
            if resp.status >= 400:
                raise ApiError(resp.status, resp.data.decode(errors="replace"))
            buffer = b""
            for chunk in resp.stream(64 * 1024, decode_content=True):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        yield json.loads(line)
        finally:
            resp.release_conn()
