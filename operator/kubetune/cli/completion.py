"""``kubetune completion bash|zsh``: a shell completion script, generated from the parser by shtab.

    source <(kubetune completion bash)                        # bash, this shell
    kubetune completion zsh > "${fpath[1]}/_kubetune"          # zsh, every new shell
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

SHELLS = ("bash", "zsh")


def add_commands(subparsers: Any) -> None:
    completion = subparsers.add_parser(
        "completion", help="print a bash or zsh completion script",
        description="Print a completion script for the shell. bash: source <(kubetune completion bash). zsh: "
        "kubetune completion zsh > \"${fpath[1]}/_kubetune\", then start a new shell.")
    completion.add_argument("shell", choices=SHELLS)
    completion.set_defaults(handler=completion_command)


def completion_command(args: argparse.Namespace) -> int:
    import shtab

    from . import build_parser

    sys.stdout.write(shtab.complete(build_parser(), shell=args.shell))
    return 0
