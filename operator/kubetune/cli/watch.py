"""``kubetune watch tj NAME`` follows a TrainingJob until it ends: exit 0 when it succeeded, 1 when it failed (with
the reason and the first dataset errors). ``kubetune watch mc NAME`` waits for a ModelComparison and prints its
result table.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .errors import EXIT_FAILED, EXIT_OK, CliError
from .flags import add_cluster_flags
from .kinds import MODELCOMPARISON, TRAINER_CONTAINER, TRAININGJOB, TRAININGJOB_UID_LABEL
from .session import Session, run

if TYPE_CHECKING:
    from rich.console import Console

Json = dict[str, Any]
WATCHABLE = {"tj": TRAININGJOB, "trainingjob": TRAININGJOB, "trainingjobs": TRAININGJOB,
             "mc": MODELCOMPARISON, "modelcomparison": MODELCOMPARISON, "modelcomparisons": MODELCOMPARISON}
ERRORS_SHOWN = 10


def add_commands(subparsers: Any) -> None:
    watch = subparsers.add_parser(
        "watch", help="follow a TrainingJob (or ModelComparison) live until it ends",
        description="Follow a TrainingJob: phase and reason, a progress bar with step/total and ETA, the loss with a "
        "sparkline of its curve, tokens/s. Ends with the job: exit 0 when it succeeded, 1 when it failed (the "
        "reason and the first dataset errors are printed). With mc, wait for a ModelComparison and print its "
        "results.")
    watch.add_argument("kind", choices=sorted(WATCHABLE), metavar="KIND", help="tj (or mc)")
    watch.add_argument("name", metavar="NAME")
    add_watch_flags(watch)
    add_cluster_flags(watch)
    watch.set_defaults(handler=watch_command)


def add_watch_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--interval", type=float, default=1.0, metavar="SECONDS",
                        help="how often to read the status (default 1)")


def watch_command(args: argparse.Namespace) -> int:
    if WATCHABLE[args.kind] is MODELCOMPARISON:
        from .compare import wait_and_show

        return run(args, lambda session: wait_and_show(session, args.name, args.interval))
    return stop_quietly(args.name, lambda: run(args, lambda session: watch_trainingjob(session, args.name,
                                                                                     args.interval)))


def stop_quietly(name: str, watching: Callable[[], int]) -> int:
    """Ctrl-C stops the watching, not the job: say so, and how to pick it up again."""
    try:
        return watching()
    except KeyboardInterrupt:
        print(f"kubetune: stopped watching {name}; it goes on in the cluster (kubetune watch tj {name})",
              file=sys.stderr)
        return 130


async def _reread(session: Session, name: str, namespace: str) -> Json:
    try:
        return await session.get(TRAININGJOB, name, namespace)
    except CliError as e:
        raise CliError(f"{e}: it was deleted while being watched") from e


async def watch_trainingjob(session: Session, name: str, interval: float = 1.0, namespace: str | None = None) -> int:
    import asyncio

    from .output import console
    from .training_view import TrainingView

    out = console()
    namespace = namespace or session.namespace
    view = TrainingView(name, namespace)
    view.update(await session.get(TRAININGJOB, name, namespace))
    if out.is_terminal:
        from rich.live import Live

        with Live(view.renderable(), console=out, refresh_per_second=4, transient=False) as live:
            while not view.finished:
                await asyncio.sleep(interval)
                view.update(await _reread(session, name, namespace))
                live.update(view.renderable(), refresh=True)
    else:
        while True:
            line = view.line()
            if line:
                out.print(line, markup=False)
            if view.finished:
                break
            await asyncio.sleep(interval)
            view.update(await _reread(session, name, namespace))
    return await report(session, view.tj, out)


async def report(session: Session, tj: Json, out: Console) -> int:
    """The closing lines: what the job produced, or why it failed and the first bad dataset lines."""
    from .output import duration, number

    name = tj["metadata"]["name"]
    status = tj.get("status") or {}
    if status.get("phase") == "Succeeded":
        metrics = status.get("metrics") or {}
        parts = [f"{metrics['steps']} steps" if metrics.get("steps") is not None else None,
                 f"final loss {number(metrics.get('trainLoss'), 4)}" if metrics.get("trainLoss") is not None else None,
                 f"eval loss {number(metrics.get('evalLoss'), 4)}" if metrics.get("evalLoss") is not None else None,
                 f"{number(metrics.get('tokensPerSecond'), 4)} tokens/s"
                 if metrics.get("tokensPerSecond") is not None else None]
        took = f" in {duration(metrics['runtimeSeconds'])}" if metrics.get("runtimeSeconds") is not None else ""
        out.print(f"[green]✓[/] [bold]{name}[/] succeeded{took}: " + ", ".join(p for p in parts if p))
        model = (status.get("modelRef") or {}).get("name")
        if model:
            out.print(f"  registered FineTunedModel [bold]{model}[/]  (kubetune models, kubetune get ftm {model})")
        return EXIT_OK
    out.print(f"[red]✗[/] [bold]{name}[/] failed: [bold red]{status.get('reason') or 'Failed'}[/]")
    errors = await first_errors(session, tj)
    message = status.get("message") or ""
    if errors:
        # The status message repeats the first errors inline; print them one per line instead.
        message = message.split(" First errors:")[0]
    if message:
        out.print(f"  {message}", markup=False)
    if errors:
        out.print("  first dataset errors:")
        for error in errors[:ERRORS_SHOWN]:
            out.print(f"    {error}", markup=False)
    out.print(f"  (kubetune logs tj {name} shows the training pod's log)")
    return EXIT_FAILED


async def first_errors(session: Session, tj: Json) -> list[str]:
    """The dataset errors of the failed training pod's result (its termination message, a TrainerResult)."""
    from kubetune.kube.client import PODS

    uid = tj["metadata"].get("uid", "")
    pods = await session.client.list(PODS, tj["metadata"].get("namespace") or session.namespace,
                                     label_selector=f"{TRAININGJOB_UID_LABEL}={uid}")
    for pod in sorted(pods, key=lambda p: p["metadata"].get("creationTimestamp", ""), reverse=True):
        for container in (pod.get("status") or {}).get("containerStatuses") or []:
            if container.get("name") != TRAINER_CONTAINER:
                continue
            message = ((container.get("state") or {}).get("terminated") or {}).get("message") or ""
            try:
                result = json.loads(message)
            except ValueError:
                continue
            if isinstance(result, dict) and result.get("errors"):
                return [str(e) for e in result["errors"]]
    return []
