"""One command's conversation with the cluster: resolve the target, open the operator's async client, run the
command's coroutine, close, and turn whatever went wrong into a one-line ``CliError``.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import EXIT_CLUSTER, CliError, UsageError
from .kinds import Kind
from .kubeconfig import ClusterTarget, resolve_target

if TYPE_CHECKING:
    from kubetune.kube import KubeClient

Json = dict[str, Any]
CRDS_MISSING = ("install kubetune's CRDs (helm install kubetune charts/kubetune, or kubectl apply -f "
                "deploy/kubetune.yaml)")


@dataclass
class Session:
    client: KubeClient
    target: ClusterTarget
    all_namespaces: bool = False

    @property
    def namespace(self) -> str:
        return self.target.namespace

    @property
    def list_namespace(self) -> str | None:
        """The namespace to list in: None (every namespace) with -A."""
        return None if self.all_namespaces else self.target.namespace

    async def get(self, kind: Kind, name: str, namespace: str | None = None) -> Json:
        from kubetune.kube import NotFound

        ns = namespace or self.namespace
        try:
            return await self.client.get(kind.resource, name, ns)
        except NotFound as e:
            if _no_such_resource(e):
                raise CliError(f"the cluster does not serve {kind.qualified}: {CRDS_MISSING}") from e
            raise CliError(f'{kind.singular} "{name}" not found in namespace "{ns}"') from e

    async def list(self, kind: Kind, label_selector: str | None = None) -> list[Json]:
        from kubetune.kube import NotFound

        try:
            items = await self.client.list(kind.resource, self.list_namespace, label_selector=label_selector)
        except NotFound as e:
            raise CliError(f"the cluster does not serve {kind.qualified}: {CRDS_MISSING}") from e
        return sorted(items, key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))


def _no_such_resource(error: Any) -> bool:
    """A 404 for a kind the server does not know comes as plain text, not as a Status naming the object."""
    return not isinstance(error.body, dict) or error.body.get("kind") != "Status" or "details" not in error.body


def run(args: argparse.Namespace, body: Callable[[Session], Awaitable[int]]) -> int:
    """Run ``body`` against the cluster the flags name; exit code from ``body``, or a CliError."""
    import asyncio

    target = resolve_target(args.kubeconfig, args.context, args.namespace)
    if getattr(args, "all_namespaces", False) and args.namespace:
        raise UsageError("pass -n NAMESPACE or -A, not both")
    return asyncio.run(_run(args, target, body))


async def _run(args: argparse.Namespace, target: ClusterTarget, body: Callable[[Session], Awaitable[int]]) -> int:
    import ssl

    import aiohttp

    from kubetune.kube import ApiError, Forbidden, KubeClient
    from kubetune.kube.client import Connection

    try:
        connection = (Connection.from_kubeconfig(target.kubeconfig, target.context) if target.kubeconfig
                      else Connection.in_cluster())
        client = KubeClient(connection, timeout=args.request_timeout)
    except (OSError, ValueError, KeyError, StopIteration, ssl.SSLError) as e:
        raise UsageError(f"cannot use kubeconfig {target.kubeconfig} (context {target.context}): "
                         f"{type(e).__name__}: {e}") from e
    server = target.server
    try:
        return await body(Session(client, target, bool(getattr(args, "all_namespaces", False))))
    except aiohttp.ClientConnectorCertificateError as e:
        raise CliError(f"TLS verification of the cluster at {server} failed: {e.certificate_error}") from e
    except aiohttp.ClientConnectorError as e:
        why = e.os_error.strerror if e.os_error and e.os_error.strerror else str(e)
        raise CliError(f"cannot reach the cluster at {server}: {why}") from e
    except aiohttp.ClientError as e:
        raise CliError(f"lost the connection to the cluster at {server}: {type(e).__name__}: {e}") from e
    except TimeoutError as e:
        raise CliError(f"the cluster at {server} did not answer within {args.request_timeout:g}s "
                       "(--request-timeout)") from e
    except Forbidden as e:
        raise CliError(f"forbidden: {e.message}") from e
    except ApiError as e:
        raise CliError(f"the API server refused the request ({e.status} {e.reason}): {e.message}",
                       EXIT_CLUSTER) from e
    finally:
        await client.close()
