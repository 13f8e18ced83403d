"""``kubetune operator [options]`` runs the operator; its options are those of ``python -m kubetune.operator``."""

from __future__ import annotations

import argparse
from typing import Any


def add_commands(subparsers: Any) -> None:
    # kopf takes most of a second to import: the operator's own parser is built only when `kubetune operator` runs,
    # so the other commands start fast and stay small. Its options pass through untouched (see main).
    operator = subparsers.add_parser("operator", help="run the kubetune operator (kopf); --help for its options",
                                     add_help=False)
    operator.set_defaults(handler=run_operator, passthrough=True)


def run_operator(args: argparse.Namespace) -> int:
    from kubetune.operator import build_parser as operator_parser
    from kubetune.operator import run

    parser = operator_parser(argparse.ArgumentParser(prog="kubetune operator", description="Run the operator."))
    run(parser.parse_args(args.extra))
    return 0
