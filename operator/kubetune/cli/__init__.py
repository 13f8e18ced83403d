"""The ``kubetune`` command.

One module per command group. Each adds itself to the parser with ``add_commands(subparsers)`` and sets ``handler``
on its sub-parsers; ``main`` calls it and returns its exit code. Heavy modules (kopf, transformers, SQLAlchemy) are
imported inside the handlers, so ``kubetune --help`` and the light commands start fast and stay small.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from . import crds, dataset, operator

GROUPS = (dataset, operator, crds)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kubetune", description="kubetune: LLM fine-tuning on Kubernetes.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.add_commands(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "passthrough", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra = extra
    return int(args.handler(args))
