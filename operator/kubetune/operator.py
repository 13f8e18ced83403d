"""``python -m kubetune.operator`` (or ``kubetune operator``): run the kopf operator."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os

import kopf

from .settings import OperatorSettings


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    parser = parser or argparse.ArgumentParser(prog="kubetune operator", description="Run the kubetune operator.")
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("-n", "--namespace", action="append", default=[],
                       help="watch only this namespace (repeatable); default: all namespaces")
    scope.add_argument("-A", "--all-namespaces", action="store_true", help="watch every namespace (the default)")
    parser.add_argument("--liveness", default=None, help="liveness endpoint, e.g. http://0.0.0.0:8081/healthz")
    parser.add_argument("--kubeconfig", default=None, help="kubeconfig to use (default: in-cluster or $KUBECONFIG)")
    parser.add_argument("--verbose", action="store_true")
    return parser


def run(args: argparse.Namespace) -> None:
    if args.kubeconfig:
        os.environ["KUBECONFIG"] = args.kubeconfig
    # kopf's formatter prefixes object messages with [namespace/name], so a log line says which object it is about.
    kopf.configure(debug=args.verbose, verbose=args.verbose, log_prefix=True)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    settings = OperatorSettings.from_env()
    namespaces = tuple(args.namespace) or settings.namespaces
    from . import controllers  # noqa: F401 - registers the handlers

    memo = kopf.Memo(operator_settings=settings)
    liveness = args.liveness or (settings.liveness_endpoint if settings.liveness_endpoint != "off" else None)
    asyncio.run(kopf.operator(
        clusterwide=not namespaces, namespaces=namespaces, memo=memo, liveness_endpoint=liveness,
        standalone=True,
    ))


def main(argv: list[str] | None = None) -> None:
    run(build_parser().parse_args(argv))


if __name__ == "__main__":
    main()
