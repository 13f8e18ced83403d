"""An asynchronous Kubernetes REST client over aiohttp, configured from a kubeconfig or the in-cluster account
(``connection``); paths from ``resources``, errors from ``errors``."""

from __future__ import annotations

import builtins
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import aiohttp

from .connection import Connection
from .errors import ApiError, NotFound, error_for
from .resources import (
    CONFIGMAPS,
    DEPLOYMENTS,
    EVENTS,
    JOBS,
    LEASES,
    PATCH_TYPES,
    PODS,
    PVCS,
    SECRETS,
    Json,
    Resource,
)


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
