"""The ``kubetune`` command.

One module per command group. Each adds itself to the parser with ``add_commands(subparsers)`` and sets ``handler``
on its sub-parsers; ``main`` calls it and returns its exit code. Heavy modules (kopf, transformers, SQLAlchemy,
aiohttp, rich) are imported inside the handlers, so ``kubetune --help`` and the light commands start fast and stay
small. Shared pieces have their own modules: ``flags`` (the kubectl conventions), ``kubeconfig`` and ``session`` (which
cluster and namespace, one client per command), ``errors`` (one-line errors and exit codes), ``output`` (rich
consoles, tables, JSON and YAML).

Cluster commands are written against the operator's own async client, ``kubetune.kube.KubeClient``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from .. import __version__
from . import compare, completion, crds, dashboard, dataset, db, get, history, logs, models, operator, train, watch
from .errors import EXIT_USAGE, CliError, one_line

GROUPS = (train, watch, get, models, logs, compare, history, dataset, db, dashboard, crds, operator, completion)


class Parser(argparse.ArgumentParser):
    """argparse, with a bad flag reported on one line (and a pointer to --help) instead of the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        # Remember the innermost parser (a sub-command's), so an unknown flag is reported against its own --help.
        parsed, extra = super().parse_known_args(args, namespace)
        if not hasattr(parsed, "leaf_parser"):
            parsed.leaf_parser = self
        return parsed, extra


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="kubetune", description="kubetune: LLM fine-tuning on Kubernetes.")
    parser.add_argument("--version", action="version", version=f"kubetune {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)
    for group in GROUPS:
        group.add_commands(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "passthrough", False):
        args.leaf_parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra = extra
    try:
        return int(args.handler(args))
    except CliError as e:
        print(f"kubetune: {one_line(str(e))}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("kubetune: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        # A bug, not a user error: still one line (KUBETUNE_DEBUG=1 shows the traceback).
        if os.environ.get("KUBETUNE_DEBUG"):
            raise
        print(f"kubetune: unexpected error: {type(e).__name__}: {one_line(str(e))} (KUBETUNE_DEBUG=1 shows where)",
              file=sys.stderr)
        return 1
