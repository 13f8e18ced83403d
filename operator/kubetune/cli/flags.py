"""The kubectl conventions every cluster command shares: --kubeconfig, --context, -n/--namespace, -A, -o."""

from __future__ import annotations

import argparse

OUTPUT_FORMATS = ("table", "wide", "json", "yaml")


def add_cluster_flags(parser: argparse.ArgumentParser, all_namespaces: bool = False) -> None:
    group = parser.add_argument_group("cluster")
    group.add_argument("--kubeconfig", metavar="FILE",
                       help="kubeconfig file (default: $KUBECONFIG, else ~/.kube/config, else in-cluster)")
    group.add_argument("--context", help="kubeconfig context (default: the current context)")
    group.add_argument("-n", "--namespace",
                       help="namespace (default: the context's namespace, else default)")
    if all_namespaces:
        group.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace")
    group.add_argument("--request-timeout", type=float, default=30.0, metavar="SECONDS",
                       help="give up on one API request after this long (default 30)")


def add_output_flag(parser: argparse.ArgumentParser, formats: tuple[str, ...] = OUTPUT_FORMATS) -> None:
    parser.add_argument("-o", "--output", choices=formats, default="table",
                        help=f"output format: {', '.join(formats)} (default table)")

