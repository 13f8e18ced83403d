"""``kubetune db upgrade|current|resync``: the mirror's database.

``upgrade`` brings the schema to this kubetune's version (the operator also does it at start unless
KUBETUNE_DATABASE_MIGRATE=false); ``current`` prints the version a database is at; ``resync`` rebuilds the
current-state tables from the cluster. The database is KUBETUNE_DATABASE_URL (else the embedded SQLite file under
KUBETUNE_STATE_DIR), or --url. Errors are one line, with the URL's password hidden.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kubetune.kube.client import Connection


def add_commands(subparsers: Any) -> None:
    db = subparsers.add_parser("db", help="the mirror's database: upgrade its schema, show its version, resync it")
    commands = db.add_subparsers(dest="db_command", required=True, metavar="COMMAND")

    def database_option(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--url", default=None,
            help="database URL (default: $KUBETUNE_DATABASE_URL, else sqlite under $KUBETUNE_STATE_DIR); the "
            "variable keeps a password out of ps")

    upgrade = commands.add_parser("upgrade", help="upgrade the schema to this kubetune's version",
                                  description="Apply the migrations the database lacks (under a Postgres advisory "
                                  "lock, so a starting operator waits). Safe to run again.")
    database_option(upgrade)
    upgrade.add_argument("--revision", default="head", help="the version to reach (default: head, the newest)")
    upgrade.set_defaults(handler=db_upgrade)

    current = commands.add_parser("current", help="print the schema version of the database")
    database_option(current)
    current.set_defaults(handler=db_current)

    resync = commands.add_parser(
        "resync", help="rebuild the current-state tables from the cluster",
        description="List every TrainingJob, FineTunedModel and ModelComparison, upsert their rows (a row already "
        "newer is kept), and mark rows of objects the cluster no longer has as deleted. History is kept.")
    database_option(resync)
    resync.add_argument("--kubeconfig", default=None, help="kubeconfig (default: in-cluster, $KUBECONFIG, "
                        "~/.kube/config)")
    resync.add_argument("--context", default=None, help="kubeconfig context (default: the current one)")
    resync.add_argument("-n", "--namespace", action="append", default=[],
                        help="only this namespace (repeatable); default: all")
    resync.set_defaults(handler=db_resync)


def _url(args: argparse.Namespace) -> str:
    from kubetune.settings import OperatorSettings
    from kubetune.store import resolve_url

    if args.url:
        return str(args.url)
    settings = OperatorSettings.from_env()
    return resolve_url(settings.database_url, settings.state_dir)


def _fail(command: str, message: str) -> int:
    print(f"kubetune db {command}: {message}", file=sys.stderr)
    return 1


def db_upgrade(args: argparse.Namespace) -> int:
    from kubetune.store import StoreError, redact, upgrade

    try:
        url = _url(args)
        version = upgrade(url, args.revision)
    except (StoreError, ValueError) as e:
        return _fail("upgrade", str(e))
    print(f"{redact(url)}: schema at version {version}")
    return 0


def db_current(args: argparse.Namespace) -> int:
    from kubetune.store import StoreError, current, head, redact

    try:
        url = _url(args)
        version = current(url)
    except (StoreError, ValueError) as e:
        return _fail("current", str(e))
    newest = head()
    state = "up to date" if version == newest else f"this kubetune needs {newest}: run `kubetune db upgrade`"
    print(f"{redact(url)}: schema at version {version or 'none (empty database)'} ({state})")
    return 0


def db_resync(args: argparse.Namespace) -> int:
    import yaml

    from kubetune.kube import ApiError
    from kubetune.store import StoreError

    try:
        url = _url(args)
        connection = _connection(args.kubeconfig, args.context)
    except (StoreError, ValueError) as e:
        return _fail("resync", str(e))
    except (OSError, yaml.YAMLError) as e:
        return _fail("resync", f"cannot read the kubeconfig: {e}")
    except (KeyError, StopIteration, TypeError, AttributeError):
        what = f"context {args.context}" if args.context else "current-context"
        return _fail("resync", f"not a usable kubeconfig: no {what} naming a cluster")
    try:
        counts = asyncio.run(_resync(url, connection, tuple(args.namespace)))
    except StoreError as e:
        return _fail("resync", str(e))
    except ApiError as e:
        return _fail("resync", f"listing the cluster failed: {e}")
    except OSError as e:  # the API server does not answer, or a certificate cannot be read
        return _fail("resync", f"cannot reach the cluster: {e}")
    for table, (listed, deleted) in counts.items():
        print(f"{table}: {listed} in the cluster, {deleted} marked deleted")
    return 0


def _connection(kubeconfig: str | None, context: str | None) -> Connection:
    import os
    from pathlib import Path

    from kubetune.kube.client import Connection

    if context:
        path = kubeconfig or os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
        return Connection.from_kubeconfig(path, context)
    return Connection.discover(kubeconfig)


async def _resync(url: str, connection: Connection, namespaces: tuple[str, ...]) -> dict[str, tuple[int, int]]:
    from kubetune.kube import KubeClient
    from kubetune.store.resync import resync

    client = KubeClient(connection)  # inside the loop that uses it
    try:
        return await resync(url, client, namespaces)
    finally:
        await client.close()
