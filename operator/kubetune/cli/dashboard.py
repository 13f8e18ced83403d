"""``kubetune dashboard``: serve the web dashboard over the database mirror.

The database is --database-url, else $KUBETUNE_DATABASE_URL, else the embedded SQLite file under $KUBETUNE_STATE_DIR,
resolved exactly as the operator resolves it, and read only. The Kubernetes flags (--kubeconfig, --context) give the
dashboard its link to the cluster for a run's Events and, with --actions, for the actions (which need a bearer token
from --token-file or $KUBETUNE_DASHBOARD_TOKEN).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from .errors import UsageError


def add_commands(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "dashboard", help="serve the web dashboard (training runs, models, comparisons) over the mirror",
        description="Serve the web dashboard: training runs with live loss curves, models and where they are "
        "served, comparisons with their charts and samples. It reads the mirror's database (never writes it) and, "
        "with --actions, creates or patches kubetune's objects through the Kubernetes API. See docs/dashboard.md.")
    parser.add_argument("--address", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1; 0.0.0.0 in a pod)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    parser.add_argument("--database-url", default=None, metavar="URL",
                        help="the mirror (default: $KUBETUNE_DATABASE_URL, else sqlite under $KUBETUNE_STATE_DIR); "
                        "the variable keeps a password out of ps")
    parser.add_argument("--actions", action=argparse.BooleanOptionalAction,
                        default=os.environ.get("KUBETUNE_DASHBOARD_ACTIONS", "").lower() in ("1", "true", "yes"),
                        help="allow starting training jobs and comparisons and deploying models (off by default; "
                        "needs a token, and RBAC for the dashboard's ServiceAccount)")
    parser.add_argument("--token-file", default=None, metavar="FILE",
                        help="the bearer token actions require (default: $KUBETUNE_DASHBOARD_TOKEN)")
    parser.add_argument("--refresh", type=float, default=3.0, metavar="SECONDS",
                        help="how often a live page polls (1 to 5 seconds, default 3)")
    group = parser.add_argument_group("cluster (Events, and the actions)")
    group.add_argument("--kubeconfig", metavar="FILE",
                       help="kubeconfig file (default: $KUBECONFIG, else ~/.kube/config, else in-cluster)")
    group.add_argument("--context", help="kubeconfig context (default: the current context)")
    group.add_argument("--no-cluster", action="store_true",
                       help="do not talk to the Kubernetes API at all (no Events, no actions)")
    parser.set_defaults(handler=dashboard_command)


def _database_url(flag: str | None) -> str:
    from kubetune.settings import OperatorSettings
    from kubetune.store import resolve_url

    if flag:
        return flag
    settings = OperatorSettings.from_env()
    return resolve_url(settings.database_url, settings.state_dir)


def dashboard_command(args: argparse.Namespace) -> int:
    import logging

    try:
        from aiohttp import web

        from kubetune.dashboard.actions.tokens import TokenMissing, load_token
        from kubetune.dashboard.app import make_app
        from kubetune.dashboard.cluster import Cluster, connect
        from kubetune.dashboard.context import DashboardConfig
    except ImportError as e:  # jinja2 is the dashboard extra's
        raise UsageError(f"the dashboard needs kubetune[dashboard] installed ({e})") from e
    from kubetune.store import InvalidDatabaseUrl, redact

    if not 1 <= args.refresh <= 5:
        raise UsageError("--refresh must be between 1 and 5 seconds")
    if not 0 < args.port < 65536:
        raise UsageError(f"--port {args.port}: not a port")
    url = _database_url(args.database_url)
    token = None
    if args.actions:
        if args.no_cluster:
            raise UsageError("--actions needs the Kubernetes API: drop --no-cluster")
        try:
            token = load_token(args.token_file)
        except TokenMissing as e:
            raise UsageError(str(e)) from e
    connection, why_not = (None, "started with --no-cluster") if args.no_cluster else connect(args.kubeconfig,
                                                                                                 args.context)
    if args.actions and connection is None:
        raise UsageError(f"--actions needs the Kubernetes API: {why_not}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        app = make_app(DashboardConfig(database_url=url, actions=args.actions, token=token,
                                       refresh_seconds=args.refresh), Cluster(connection, why_not))
    except InvalidDatabaseUrl as e:
        raise UsageError(str(e)) from e
    print(f"kubetune dashboard on http://{args.address}:{args.port}/ reading {redact(url)}"
          f"{' (actions on)' if args.actions else ''}", flush=True)
    web.run_app(app, host=args.address, port=args.port, print=None, access_log=None, handle_signals=True)
    return 0
