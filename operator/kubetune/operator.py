"""``python -m kubetune.operator`` (or ``kubetune operator``): run the kopf operator.

With leader election (the default) the process first waits to hold the Lease, then runs kopf; a standby replica
watches nothing and serves only its health and metrics endpoints. A leader that cannot renew the Lease exits at once
(as client-go's leader election does), so two replicas never act together; on SIGTERM it releases the Lease and a
standby takes over without waiting for it to expire.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
from pathlib import Path
from urllib.parse import urlparse

import kopf
from aiohttp import web

from .settings import OperatorSettings

log = logging.getLogger("kubetune.operator")
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    parser = parser or argparse.ArgumentParser(prog="kubetune operator", description="Run the kubetune operator.")
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("-n", "--namespace", action="append", default=[],
                       help="watch only this namespace (repeatable; globs such as team-* work); default: all")
    scope.add_argument("-A", "--all-namespaces", action="store_true", help="watch every namespace (the default)")
    parser.add_argument("--liveness", default=None, help="liveness endpoint, e.g. http://0.0.0.0:8081/healthz")
    parser.add_argument("--kubeconfig", default=None, help="kubeconfig to use (default: in-cluster or $KUBECONFIG)")
    parser.add_argument("--verbose", action="store_true")
    return parser


def lease_namespace(settings: OperatorSettings) -> str:
    if settings.leader_election_namespace:
        return settings.leader_election_namespace
    if os.environ.get("POD_NAMESPACE"):
        return os.environ["POD_NAMESPACE"]
    if SERVICE_ACCOUNT_NAMESPACE.exists():
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip()
    return "default"


def lease_identity(settings: OperatorSettings) -> str:
    # Stable per pod: a restarted container re-takes its own Lease at once (its old process is gone).
    return settings.leader_election_identity or os.environ.get("POD_NAME") or socket.gethostname()


async def _serve_health(liveness: str | None) -> web.AppRunner | None:
    """/healthz for the standby and the leader alike (the probe must pass while a replica waits to lead)."""
    if not liveness:
        return None
    url = urlparse(liveness)

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get(url.path or "/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, url.hostname or "0.0.0.0", url.port or 8081).start()
    return runner


async def serve(settings: OperatorSettings, namespaces: tuple[str, ...], liveness: str | None) -> None:
    from . import controllers  # noqa: F401 - registers the handlers
    from .controllers.leadership import LeaderElector, LeaseConfig
    from .controllers.metrics import LEADER
    from .controllers.metrics import serve as serve_metrics
    from .kube import KubeClient
    from .kube.namespaces import plain_names

    serve_metrics(settings.metrics_port)
    health = await _serve_health(liveness)
    elector: LeaderElector | None = None
    keeper: asyncio.Task[None] | None = None
    lease_client: KubeClient | None = None
    try:
        if settings.leader_election:
            lease_client = KubeClient.discover()
            elector = LeaderElector(lease_client, LeaseConfig(
                name=settings.leader_election_name, namespace=lease_namespace(settings),
                identity=lease_identity(settings), lease_duration=settings.lease_duration,
                renew_deadline=settings.renew_deadline, retry_period=settings.lease_retry_period))
            await elector.acquire()
            keeper = asyncio.create_task(elector.keep(on_lost=_stop_now))
        LEADER.set(1)
        # Patterns are matched by the handlers' filter (controllers/scope.py) on cluster-wide watches; kopf watches
        # exact names itself.
        patterns = not plain_names(namespaces)
        memo = kopf.Memo(operator_settings=settings, namespaces=namespaces,
                         namespace_patterns=namespaces if patterns else ())
        await kopf.operator(clusterwide=patterns or not namespaces, namespaces=() if patterns else namespaces,
                            memo=memo, standalone=True)
    finally:
        LEADER.set(0)
        if keeper is not None:
            keeper.cancel()
        if elector is not None:
            await elector.release()
        if lease_client is not None:
            await lease_client.close()
        if health is not None:
            await health.cleanup()


def _stop_now() -> None:
    # Nothing may act once another replica can take the Lease: no graceful shutdown, which would keep reconciling.
    logging.shutdown()
    os._exit(1)


def run(args: argparse.Namespace) -> None:
    if args.kubeconfig:
        os.environ["KUBECONFIG"] = args.kubeconfig
    # kopf's formatter prefixes object messages with [namespace/name], so a log line says which object it is about.
    kopf.configure(debug=args.verbose, verbose=args.verbose, log_prefix=True)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    if not args.verbose:
        # kopf says "Handler ... succeeded" for every watch event of every child; kubetune logs what it does itself.
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    settings = OperatorSettings.from_env()
    namespaces = tuple(args.namespace) or settings.namespaces
    liveness = args.liveness or (settings.liveness_endpoint if settings.liveness_endpoint != "off" else None)
    asyncio.run(serve(settings, namespaces, liveness))


def main(argv: list[str] | None = None) -> None:
    run(build_parser().parse_args(argv))


if __name__ == "__main__":
    main()
