"""``kubetune logs tj NAME [-f]``: the training pod's log. After retries that is the newest pod of the job's Job;
with -f it follows the pod, and then the next retry's pod, until the job ends.

Logs are read through the API server (pods/log), as kubectl logs reads them.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .errors import CliError
from .flags import add_cluster_flags
from .kinds import TRAINER_CONTAINER, TRAININGJOB, TRAININGJOB_UID_LABEL
from .session import Session, run

Json = dict[str, Any]
LOGGABLE = {"tj": TRAININGJOB, "trainingjob": TRAININGJOB, "trainingjobs": TRAININGJOB}
FINISHED = ("Succeeded", "Failed")


def add_commands(subparsers: Any) -> None:
    logs = subparsers.add_parser(
        "logs", help="print a TrainingJob's training log",
        description="Print the log of a TrainingJob's training pod: the newest one, when the job was retried. With "
        "-f, follow it (and the pod of a retry) until the job ends. Notes on which pod go to stderr.")
    logs.add_argument("kind", choices=sorted(LOGGABLE), metavar="KIND", help="tj")
    logs.add_argument("name", metavar="NAME")
    logs.add_argument("-f", "--follow", action="store_true", help="follow the log until the job ends")
    logs.add_argument("--tail", type=int, metavar="LINES", help="only the last LINES lines")
    logs.add_argument("--attempt", type=int, metavar="N", help="the N-th training pod (1 = the first) instead of "
                      "the newest")
    add_cluster_flags(logs)
    logs.set_defaults(handler=logs_command)


def logs_command(args: argparse.Namespace) -> int:
    return run(args, lambda session: show_logs(session, args.name, args.follow, args.tail, args.attempt))


async def training_pods(session: Session, tj: Json) -> list[Json]:
    """The job's training pods, oldest first (each retry is a new pod of the same Job)."""
    from kubetune.kube.client import PODS

    pods = await session.client.list(PODS, tj["metadata"]["namespace"],
                                     label_selector=f"{TRAININGJOB_UID_LABEL}={tj['metadata']['uid']}")
    return sorted(pods, key=lambda p: (p["metadata"].get("creationTimestamp", ""), p["metadata"]["name"]))


def _note(text: str) -> None:
    print(f"# {text}", file=sys.stderr, flush=True)


async def _stream(session: Session, pod: Json, follow: bool, tail: int | None) -> None:
    from kubetune.kube.client import PODS

    query: dict[str, Any] = {"container": TRAINER_CONTAINER}
    if follow:
        query["follow"] = "true"
    if tail is not None:
        query["tailLines"] = tail
    path = PODS.path(pod["metadata"]["namespace"], pod["metadata"]["name"], "log")
    out = sys.stdout.buffer
    async for chunk in session.client.stream(path, query):
        out.write(chunk)
        out.flush()


async def _stream_when_started(session: Session, pod: Json, follow: bool, tail: int | None) -> None:
    """A pod still being created has no log yet: without -f that is an error, with -f wait for it."""
    import asyncio

    from kubetune.kube import ApiError

    while True:
        try:
            await _stream(session, pod, follow, tail)
            return
        except ApiError as e:
            waiting = e.status == 400 and "waiting to start" in e.message
            if not (follow and waiting):
                raise CliError(f"no log from pod {pod['metadata']['name']}: {e.message}") from e
        await asyncio.sleep(1)


async def show_logs(session: Session, name: str, follow: bool, tail: int | None, attempt: int | None) -> int:
    import asyncio

    tj = await session.get(TRAININGJOB, name)
    pods = await training_pods(session, tj)
    while not pods:
        status = tj.get("status") or {}
        if not follow or status.get("phase") in FINISHED:
            raise CliError(f'trainingjob "{name}" has no training pod (phase {status.get("phase") or "Pending"}: '
                           f'{status.get("message") or "not started yet"})')
        await asyncio.sleep(1)
        tj = await session.get(TRAININGJOB, name)
        pods = await training_pods(session, tj)
    if attempt is not None:
        if not 1 <= attempt <= len(pods):
            raise CliError(f'trainingjob "{name}" has {len(pods)} training pod(s); --attempt {attempt} is not one')
        pod = pods[attempt - 1]
    else:
        pod = pods[-1]
    if len(pods) > 1:
        _note(f"pod {pod['metadata']['name']}, attempt {pods.index(pod) + 1} of {len(pods)}")
    await _stream_when_started(session, pod, follow, tail)
    if not follow or attempt is not None:
        return 0
    seen = {p["metadata"]["name"] for p in pods}
    # The pod ended; a retry may follow with a new pod, until the job itself is done.
    while True:
        tj = await session.get(TRAININGJOB, name)
        newer = [p for p in await training_pods(session, tj) if p["metadata"]["name"] not in seen]
        if newer:
            pod = newer[0]
            seen.add(pod["metadata"]["name"])
            _note(f"pod {pod['metadata']['name']}, attempt {len(seen)} (a retry)")
            await _stream_when_started(session, pod, True, None)
            continue
        if (tj.get("status") or {}).get("phase") in FINISHED:
            return 0
        await asyncio.sleep(1)
