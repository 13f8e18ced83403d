"""``kubetune get [tj|ftm|mc] [NAME]``: kubetune's objects as kubectl lists them, with the progress, loss, serving and
verdict columns that matter. Without a kind, all three kinds.
"""

from __future__ import annotations

import argparse
from typing import Any

from .flags import add_cluster_flags, add_output_flag
from .kinds import ALIASES, KINDS, Kind
from .session import Session, run

Json = dict[str, Any]


def add_commands(subparsers: Any) -> None:
    get = subparsers.add_parser(
        "get", help="list TrainingJobs, FineTunedModels and ModelComparisons",
        description="List kubetune's objects, or show one. KIND is tj, ftm or mc (or their full names); without "
        "it, all three kinds are listed.")
    get.add_argument("kind", nargs="?", choices=sorted(ALIASES), metavar="KIND", help="tj, ftm or mc")
    get.add_argument("name", nargs="?", metavar="NAME", help="one object (needs KIND)")
    add_cluster_flags(get, all_namespaces=True)
    add_output_flag(get)
    get.set_defaults(handler=get_command)


def get_command(args: argparse.Namespace) -> int:
    kinds = (ALIASES[args.kind],) if args.kind else KINDS
    return run(args, lambda session: show(session, kinds, args.name, args.output))


async def show(session: Session, kinds: tuple[Kind, ...], name: str | None, fmt: str) -> int:
    from .columns import headers, row
    from .output import as_list, console, dump, print_table

    out = console()
    found: dict[Kind, list[Json]] = {}
    for kind in kinds:
        found[kind] = [await session.get(kind, name)] if name else await session.list(kind)
    objects = [obj for items in found.values() for obj in items]
    if fmt in ("json", "yaml"):
        dump(out, objects[0] if name else as_list(objects), fmt)
        return 0
    if not objects:
        where = "any namespace" if session.all_namespaces else f"{session.namespace} namespace"
        console(stderr=True).print(f"No resources found in {where}.")
        return 0
    wide, namespaces = fmt == "wide", session.all_namespaces
    printed = False
    for kind, items in found.items():
        if not items:
            continue
        if printed:
            out.print()
        # Several kinds at once are told apart as kubectl does: trainingjob.kubetune.dev/NAME.
        qualify = len(kinds) > 1
        rows = [row(kind, obj, wide, namespaces) for obj in items]
        if qualify:
            name_col = 1 if namespaces else 0
            for cells in rows:
                cells[name_col] = f"{kind.singular}.kubetune.dev/{cells[name_col]}"
        print_table(out, headers(kind, wide, namespaces), rows)
        printed = True
    return 0
