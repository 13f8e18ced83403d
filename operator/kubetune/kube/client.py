"""An asynchronous Kubernetes REST client over aiohttp, configured from a kubeconfig or the in-cluster account."""

from __future__ import annotations

import base64
import builtins
import json
import os
import ssl
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import yaml

from .errors import ApiError, NotFound, error_for

Json = dict[str, Any]

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "strategic": "application/strategic-merge-patch+json",
}


@dataclass(frozen=True)
class Resource:
    """Where a kind lives in the API: ``Resource("batch/v1", "jobs")``."""

    api_version: str
    plural: str
    namespaced: bool = True

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
        base = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name:
            base += f"/{name}"
        if subresource:
            base += f"/{subresource}"
        return base


PODS = Resource("v1", "pods")
SECRETS = Resource("v1", "secrets")
CONFIGMAPS = Resource("v1", "configmaps")
PVCS = Resource("v1", "persistentvolumeclaims")
EVENTS = Resource("v1", "events")
JOBS = Resource("batch/v1", "jobs")
DEPLOYMENTS = Resource("apps/v1", "deployments")
LEASES = Resource("coordination.k8s.io/v1", "leases")


@dataclass(frozen=True)
class Connection:
    server: str
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    token: str | None = None
    token_file: str | None = None
    insecure: bool = False

    @classmethod
    def discover(cls, kubeconfig: str | None = None) -> Connection:
        """In-cluster when running in a pod; otherwise $KUBECONFIG or ~/.kube/config."""
        path = kubeconfig or os.environ.get("KUBECONFIG")
        if not path and (SERVICE_ACCOUNT_DIR / "token").exists() and os.environ.get("KUBERNETES_SERVICE_HOST"):
            return cls.in_cluster()
        return cls.from_kubeconfig(path or str(Path.home() / ".kube" / "config"))

    @classmethod
    def in_cluster(cls) -> Connection:
        host = os.environ["KUBERNETES_SERVICE_HOST"]
        port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
        if ":" in host:
            host = f"[{host}]"
        return cls(server=f"https://{host}:{port}", ca_file=str(SERVICE_ACCOUNT_DIR / "ca.crt"),
                   token_file=str(SERVICE_ACCOUNT_DIR / "token"))

    @classmethod
    def from_kubeconfig(cls, path: str, context: str | None = None) -> Connection:
        config = yaml.safe_load(Path(path).read_text())
        name = context or config.get("current-context")
        ctx = next(c["context"] for c in config["contexts"] if c["name"] == name)
        cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == ctx["cluster"])
        user: Json = next((u["user"] for u in config.get("users", []) if u["name"] == ctx.get("user")), {})
        base = Path(path).parent

        def relative(value: str | None) -> str | None:
            # client-go resolves every file a kubeconfig names (tokenFile too) against the kubeconfig's directory.
            return str(base / value) if value else None

        def file_of(section: Json, file_key: str, data_key: str) -> str | None:
            if section.get(file_key):
                return relative(section[file_key])
            if section.get(data_key):
                handle = tempfile.NamedTemporaryFile(delete=False, prefix="kubetune-", suffix=".pem")  # noqa: SIM115
                handle.write(base64.b64decode(section[data_key]))
                handle.close()
                os.chmod(handle.name, 0o600)
                return handle.name
            return None

        return cls(
            server=cluster["server"].rstrip("/"),
            ca_file=file_of(cluster, "certificate-authority", "certificate-authority-data"),
            cert_file=file_of(user, "client-certificate", "client-certificate-data"),
            key_file=file_of(user, "client-key", "client-key-data"),
            token=user.get("token"),
            token_file=relative(user.get("tokenFile")),
            insecure=bool(cluster.get("insecure-skip-tls-verify")),
        )

    def ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=self.ca_file)
        if self.insecure:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if self.cert_file:
            ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx

    def bearer(self) -> str | None:
        # Projected service-account tokens rotate, so read the file on each request.
        if self.token_file:
            return Path(self.token_file).read_text().strip()
        return self.token


class KubeClient:
    """Plain-dict access to the API server. Create it inside the event loop that uses it."""

    def __init__(self, connection: Connection, timeout: float = 30.0, limit: int = 64) -> None:
        self.connection = connection
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._connector = aiohttp.TCPConnector(ssl=connection.ssl_context(), limit=limit)
        self._session = aiohttp.ClientSession(connector=self._connector, json_serialize=json.dumps)

    @classmethod
    def discover(cls, kubeconfig: str | None = None) -> KubeClient:
        return cls(Connection.discover(kubeconfig))

    async def close(self) -> None:
        await self._session.close()

    def _headers(self, content_type: str | None = None) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        token = self.connection.bearer()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    async def request(self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None,
                      content_type: str = "application/json") -> Any:
        url = self.connection.server + path + ("?" + urlencode(query) if query else "")
        data = json.dumps(body) if body is not None else None
        async with self._session.request(method, url, data=data, timeout=self._timeout,
                                         headers=self._headers(content_type if data else None)) as resp:
            text = await resp.text()
            try:
                payload = json.loads(text) if text else {}
            except ValueError:
                payload = text
            if resp.status >= 400:
                raise error_for(resp.status, payload, method, path)
            return payload

    # -- verbs -------------------------------------------------------------------------------------------------
    async def get(self, resource: Resource, name: str, namespace: str | None = None) -> Json:
        return await self.request("GET", resource.path(namespace, name))

    async def get_or_none(self, resource: Resource, name: str, namespace: str | None = None) -> Json | None:
        try:
            return await self.get(resource, name, namespace)
        except NotFound:
            return None

    async def list(self, resource: Resource, namespace: str | None = None, label_selector: str | None = None,
                   field_selector: str | None = None) -> builtins.list[Json]:
        query = {k: v for k, v in (("labelSelector", label_selector), ("fieldSelector", field_selector)) if v}
        result = await self.request("GET", resource.path(namespace), query=query or None)
        return list(result.get("items", []))

    async def list_with_version(self, resource: Resource, namespace: str | None = None,
                                label_selector: str | None = None,
                                field_selector: str | None = None) -> tuple[builtins.list[Json], str]:
        """The items and the list's resourceVersion, to start a watch from."""
        query = {k: v for k, v in (("labelSelector", label_selector), ("fieldSelector", field_selector)) if v}
        result = await self.request("GET", resource.path(namespace), query=query or None)
        return list(result.get("items", [])), str(result["metadata"]["resourceVersion"])

    async def create(self, resource: Resource, body: Json, namespace: str | None = None) -> Json:
        return await self.request("POST", resource.path(namespace), body)

    async def patch(self, resource: Resource, name: str, body: Any, namespace: str | None = None,
                    subresource: str | None = None, patch_type: str = "merge") -> Json:
        return await self.request(
            "PATCH", resource.path(namespace, name, subresource), body, content_type=PATCH_TYPES[patch_type])

    async def replace(self, resource: Resource, name: str, body: Json, namespace: str | None = None) -> Json:
        """PUT the whole object; its metadata.resourceVersion makes it conditional (409 when it moved on)."""
        return await self.request("PUT", resource.path(namespace, name), body)

    async def delete(self, resource: Resource, name: str, namespace: str | None = None,
                     propagation: str = "Background", grace_seconds: int | None = None,
                     uid: str | None = None) -> Json | None:
        """Delete, tolerating NotFound; with ``uid``, only that incarnation of the name (409 when it is another)."""
        options: Json = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
        if grace_seconds is not None:
            options["gracePeriodSeconds"] = grace_seconds
        if uid is not None:
            options["preconditions"] = {"uid": uid}
        try:
            return await self.request("DELETE", resource.path(namespace, name), options)
        except NotFound:
            return None

    async def stream(self, path: str, query: dict[str, Any] | None = None) -> AsyncIterator[bytes]:
        """GET a streamed body (a pod's log, followed) chunk by chunk as it arrives, with no overall time limit."""
        url = self.connection.server + path + ("?" + urlencode(query) if query else "")
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self._timeout.total)
        headers = {**self._headers(), "Accept": "*/*"}
        async with self._session.get(url, headers=headers, timeout=timeout) as resp:
            if resp.status >= 400:
                text = await resp.text()
                try:
                    payload = json.loads(text)
                except ValueError:
                    payload = text
                raise error_for(resp.status, payload, "GET", path)
            async for chunk in resp.content.iter_any():
                yield chunk

    async def watch(self, resource: Resource, namespace: str | None = None, label_selector: str | None = None,
                    resource_version: str | None = None, timeout_seconds: int = 300,
                    field_selector: str | None = None) -> AsyncIterator[Json]:
        """Yield raw watch events until the server ends the stream; the caller relists on ``Gone``."""
        query: Json = {"watch": "true", "allowWatchBookmarks": "true", "timeoutSeconds": timeout_seconds}
        if label_selector:
            query["labelSelector"] = label_selector
        if field_selector:
            query["fieldSelector"] = field_selector
        if resource_version:
            query["resourceVersion"] = resource_version
        url = self.connection.server + resource.path(namespace) + "?" + urlencode(query)
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=timeout_seconds + 30)
        async with self._session.get(url, headers=self._headers(), timeout=timeout) as resp:
            if resp.status >= 400:
                raise error_for(resp.status, await resp.text(), "WATCH", resource.path(namespace))
            async for line in resp.content:
                if not line.strip():
                    continue
                event = json.loads(line)
                if event.get("type") == "ERROR":
                    status = event.get("object", {})
                    raise error_for(int(status.get("code", 500)), status, "WATCH", resource.path(namespace))
                yield event


__all__ = ["CONFIGMAPS", "DEPLOYMENTS", "EVENTS", "JOBS", "LEASES", "PODS", "PVCS", "SECRETS", "ApiError", "Connection",
           "KubeClient", "Resource"]
