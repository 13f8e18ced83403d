"""The test ground's synchronous Kubernetes client (process node, tests, benchmarks): plain dicts over urllib3.

It is kubetune's client seen from synchronous code: the connection (kubeconfig, in-memory key material), the resource
paths and the errors (``NotFound``, ``Conflict``, ... all ``ApiError``) are ``kubetune.kube``'s; only the transport
differs. Watches are streamed line by line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import urllib3

from kubetune.kube.connection import Connection
from kubetune.kube.errors import ApiError, NotFound, error_for
from kubetune.kube.resources import KINDS, PATCH_TYPES, Json, Resource, resource_for

__all__ = ["ApiError", "Connection", "Json", "KubeREST"]


class KubeREST:
    """Plain-dict access to the API server, addressed by path (``KubeREST.path_for("Pod", ns, name)``)."""

    def __init__(self, connection: Connection, timeout: float = 30.0) -> None:
        self.connection = connection
        self._pool = urllib3.PoolManager(ssl_context=connection.ssl_context(), maxsize=16, retries=False)
        self._timeout = timeout

    @classmethod
    def from_kubeconfig(cls, path: str | Path) -> KubeREST:
        return cls(Connection.from_kubeconfig(path))

    def _headers(self, content_type: str | None = None) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        token = self.connection.bearer()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    # -- paths -------------------------------------------------------------------------------------------------
    @staticmethod
    def path(api_version: str, plural: str, namespace: str | None = None, name: str | None = None,
             subresource: str | None = None) -> str:
        return Resource(api_version, plural).path(namespace, name, subresource)

    @staticmethod
    def path_for(kind: str, namespace: str | None = None, name: str | None = None, api_version: str | None = None,
                 plural: str | None = None, subresource: str | None = None) -> str:
        return resource_for(kind, api_version, plural).path(namespace, name, subresource)

    # -- verbs -------------------------------------------------------------------------------------------------
    def request(self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None,
                content_type: str = "application/json", timeout: float | None = None) -> Any:
        url = self.connection.server + path + (("?" + urlencode(query)) if query else "")
        data = json.dumps(body).encode() if body is not None else None
        resp = self._pool.request(method, url, body=data, headers=self._headers(content_type if data else None),
                                  timeout=timeout or self._timeout)
        payload: Any
        try:
            payload = json.loads(resp.data) if resp.data else {}
        except ValueError:
            payload = resp.data.decode(errors="replace")
        if resp.status >= 400:
            raise error_for(resp.status, payload, method, path)
        return payload

    def get(self, path: str, **query: Any) -> Json:
        return self.request("GET", path, query=query or None)

    def get_or_none(self, path: str) -> Json | None:
        try:
            return self.get(path)
        except NotFound:
            return None

    def create(self, path: str, body: Json) -> Json:
        return self.request("POST", path, body)

    def replace(self, path: str, body: Json) -> Json:
        return self.request("PUT", path, body)

    def patch(self, path: str, body: Any, kind: str = "merge") -> Json:
        return self.request("PATCH", path, body, content_type=PATCH_TYPES[kind])

    def delete(self, path: str, body: Json | None = None, missing_ok: bool = True) -> Json | None:
        try:
            return self.request("DELETE", path, body)
        except NotFound:
            if missing_ok:
                return None
            raise

    def apply(self, manifest: Json) -> Json:
        """Create the object, or replace it when it exists (keeping its resourceVersion)."""
        meta = manifest["metadata"]
        kind = manifest["kind"]
        plural = None if kind in KINDS else kind.lower() + "s"
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
        """Yield watch events (``{"type": ..., "object": ...}``) until the server closes the stream.

        An ``ERROR`` event is yielded as it is; the caller decides (a 410 means: list again)."""
        q: dict[str, Any] = {"watch": "true", "timeoutSeconds": timeout_seconds, "allowWatchBookmarks": "true", **query}
        if resource_version:
            q["resourceVersion"] = resource_version
        url = self.connection.server + path + "?" + urlencode(q)
        resp = self._pool.request("GET", url, headers=self._headers(), preload_content=False,
                                  timeout=urllib3.Timeout(connect=10, read=timeout_seconds + 10))
        try:
            if resp.status >= 400:
                raise error_for(resp.status, resp.data.decode(errors="replace"), "WATCH", path)
            buffer = b""
            for chunk in resp.stream(64 * 1024, decode_content=True):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        yield json.loads(line)
        finally:
            resp.release_conn()
